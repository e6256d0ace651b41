package cluster_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/check"
	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/sim"
)

// Kafka's LogMatching invariant compares two replicas at one instant, below
// the smaller of their high watermarks. A lone replica that loses power and
// has its committed offsets rewritten by new writes has lost data — a
// durability failure — but disagrees with no other replica.
func TestPowerLossRewriteIsLossNotDivergence(t *testing.T) {
	r := newRun(t, setup{seed: 5, duration: 50 * time.Second, brokers: 1, rf: 1, parts: 1, minISR: 1, acks: config.AcksAll, idem: true, rate: 200})
	r.at(10*time.Second, "power loss", func() { r.w.PowerLoss(r.node(0)) })
	r.at(12*time.Second, "restart", func() { r.w.Restart(r.node(0)) })
	r.execute()
	require.False(t, r.durability().OK(), "the page cache's records are gone")
	agreement := check.ReplicaAgreement(r.c.Monitor.Divergences(), r.c.FinalLogs())
	assert.True(t, agreement.OK(), "%v", agreement.Violations)
}

// After a total power loss of RF=2, the follower returns first and is
// elected; the old leader returns 10 s later with its pre-crash high
// watermark checkpoint and records the new leader lost and overwrote.
// That is loss (acked-durability counts it), not a protocol divergence:
// LogMatching, as Raft states it, compares logs where they hold the same
// (offset, leader epoch), and with KIP-101 the returning replica truncates
// and the replicas agree again.
func TestTotalPowerLossIsLossNotDivergence(t *testing.T) {
	for seed := sim.Seed(1); seed <= 5; seed++ {
		r := newRun(t, setup{seed: seed, duration: 90 * time.Second, brokers: 2, rf: 2, parts: 1, minISR: 1, acks: config.AcksAll, idem: true, rate: 300})
		var follower protocol.BrokerID
		// Late enough that the OS has written back some of each log (pages
		// older than 30 s, every 5 s, each disk in its own phase).
		r.at(47*time.Second, "power loss of both", func() {
			follower = 1 - r.leader(orders0)
			r.w.PowerLoss(r.node(0))
			r.w.PowerLoss(r.node(1))
		})
		r.at(48*time.Second, "the follower returns", func() { r.w.Restart(r.node(follower)) })
		r.at(58*time.Second, "the old leader returns", func() { r.w.Restart(r.node(1 - follower)) })
		r.execute()
		agreement := check.ReplicaAgreement(r.c.Monitor.Divergences(), r.c.FinalLogs())
		assert.True(t, agreement.OK(), "seed %d: %v", seed, agreement.Violations)
	}
}
