package cluster_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/check"
	"github.com/tideline-sim/tideline/cluster/config"
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
