package cluster_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/check"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/protocol"
)

// KRaft refuses a new incarnation's registration while the old one's
// session is valid (DuplicateBrokerRegistrationException); the old session
// then expires, the broker is fenced and its partitions get a new leader at
// a new leader epoch. An RF=2 acks=1 leader that loses power and restarts
// 0.6 s later therefore never leads again at its old epoch with a different
// log, and the replicas never disagree below their high watermarks.
func TestRestartWithinSessionIsRefusedUntilFenced(t *testing.T) {
	r := twice(t, func() *run {
		r := newRun(t, setup{seed: 1, duration: 40 * time.Second, brokers: 2, rf: 2, parts: 1, minISR: 1, acks: 1, rate: 300})
		r.at(10*time.Second, "power loss", func() { r.w.PowerLoss(r.node(r.leader(orders0))) })
		r.at(10600*time.Millisecond, "restart", func() {
			r.w.Restart(r.node(0))
			r.w.Restart(r.node(1))
		})
		return r
	})
	refused := events(r, journal.EvRegistrationRefused, protocol.TopicPartition{})
	require.NotEmpty(t, refused, "the new incarnation is refused while the old session is valid")
	fenced := events(r, journal.EvFenced, protocol.TopicPartition{})
	require.NotEmpty(t, fenced)
	assert.Equal(t, refused[0].Broker, fenced[0].Broker)
	assert.Greater(t, fenced[0].Time, refused[0].Time, "fenced when the old session expires, after the refusal")

	// Every leadership has an epoch of its own.
	seen := map[int32]protocol.BrokerID{}
	for _, e := range events(r, journal.EvBecameLeader, orders0) {
		if b, ok := seen[e.Epoch]; ok {
			assert.Equal(t, b, e.Broker, "epoch %d led by two brokers", e.Epoch)
		}
		seen[e.Epoch] = e.Broker
	}
	assert.GreaterOrEqual(t, len(seen), 2, "the power-lost leader's partition got a new leader epoch")
	agreement := check.ReplicaAgreement(r.c.Monitor.Divergences(), r.c.FinalLogs())
	for _, v := range agreement.Violations {
		t.Logf("%v", v)
	}
	assert.True(t, agreement.OK(), "replicas agree below their high watermarks")
}
