package cluster_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/tideline-sim/tideline/cluster"
)

// KAFKA-15583 (3.7): both followers of an acks=all partition with
// min.insync.replicas=2 crash; once they are fenced the ISR is the leader
// alone. Before 3.7 the leader's high watermark moves on anyway, so writes
// appended while the ISR was whole are committed on one replica and
// answered NOT_ENOUGH_REPLICAS_AFTER_APPEND; from 3.7 the high watermark
// stays put below min ISR and they time out instead.
func TestKAFKA15583HighWatermarkBelowMinISR(t *testing.T) {
	neaa := func(version string) int {
		r := newRun(t, setup{seed: 2, duration: 60 * time.Second, brokers: 3, rf: 3, parts: 1, minISR: 2, acks: cluster.AcksAll, idem: true, rate: 200,
			configure: func(s *cluster.Spec) { s.Broker.Protocol = cluster.MustProtocol(version) }})
		r.at(10*time.Second, "crash both followers", func() {
			leader := r.leader(orders0)
			for b := range cluster.BrokerID(3) {
				if b != leader {
					r.w.Crash(r.node(b))
				}
			}
		})
		r.at(40*time.Second, "restart", func() {
			for b := range cluster.BrokerID(3) {
				r.w.Restart(r.node(b))
			}
		})
		r.execute()
		below := 0
		for _, v := range r.c.Journal.Violations() {
			if v.Kind == cluster.InvHWBelowMinISR {
				below++
			}
		}
		assert.Equal(t, version < "3.7", below > 0, "%s: the monitor names the HW moving below min ISR", version)
		return len(events(r, cluster.EvNotEnoughReplicasAfterAppend, orders0))
	}
	before, after := neaa("3.6"), neaa("3.7")
	t.Logf("NOT_ENOUGH_REPLICAS_AFTER_APPEND: %d at 3.6, %d at 3.7", before, after)
	assert.Positive(t, before)
	assert.Zero(t, after)
}
