package cluster_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/journal"
)

// Kafka does not fsync by default, but Linux writes dirty pages back after
// vm.dirty_expire_centisecs (30 s), waking every
// vm.dirty_writeback_centisecs (5 s): a broker that loses power at 44 s
// keeps what it wrote up to 10 s (the flusher's wake at 40 s, less 30 s)
// and loses the tail.
func TestPowerLossLosesOnlyTheTailTheOSHadNotWrittenBack(t *testing.T) {
	r := newRun(t, setup{seed: 3, duration: 70 * time.Second, brokers: 1, rf: 1, parts: 1, minISR: 1, acks: config.AcksAll, idem: true, rate: 200})
	r.at(44*time.Second, "power loss", func() { r.w.PowerLoss(r.node(0)) })
	r.at(50*time.Second, "restart", func() { r.w.Restart(r.node(0)) })
	r.execute()
	lost := map[int64]bool{}
	for _, v := range r.durability().Violations {
		lost[v.Payload] = true
	}
	var keptEarly, lostEarly, lostLate int
	for _, op := range r.c.History.Ops() {
		if op.F != journal.OpSend || op.Type != journal.Ok {
			continue
		}
		switch {
		case op.Time < clock.At(10*time.Second) && lost[op.Payload]:
			lostEarly++
		case op.Time < clock.At(10*time.Second):
			keptEarly++
		case op.Time > clock.At(11*time.Second) && lost[op.Payload]:
			lostLate++
		}
	}
	require.Positive(t, keptEarly)
	assert.Zero(t, lostEarly, "written back by the OS before the power loss")
	assert.Greater(t, lostLate, 5000, "the last 30-odd seconds were only in the page cache")
}
