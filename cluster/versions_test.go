package cluster_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/tideline-sim/tideline/cluster"
	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/monitor"
	"github.com/tideline-sim/tideline/cluster/protocol"
)

// KAFKA-15583 (3.7): both followers of an acks=all partition with
// min.insync.replicas=2 crash; once they are fenced the ISR is the leader
// alone. Before 3.7 the leader's high watermark moves on anyway, so writes
// appended while the ISR was whole are committed on one replica and
// answered NOT_ENOUGH_REPLICAS_AFTER_APPEND; from 3.7 the high watermark
// stays put below min ISR and they time out instead.
func TestKAFKA15583HighWatermarkBelowMinISR(t *testing.T) {
	neaa := func(version string) int {
		r := newRun(t, setup{seed: 2, duration: 60 * time.Second, brokers: 3, rf: 3, parts: 1, minISR: 2, acks: config.AcksAll, idem: true, rate: 200,
			configure: func(s *cluster.Spec) { s.Broker.Protocol = protocol.MustProtocol(version) }})
		r.at(10*time.Second, "crash both followers", func() {
			leader := r.leader(orders0)
			for b := range protocol.BrokerID(3) {
				if b != leader {
					r.w.Crash(r.node(b))
				}
			}
		})
		r.at(40*time.Second, "restart", func() {
			for b := range protocol.BrokerID(3) {
				r.w.Restart(r.node(b))
			}
		})
		r.execute()
		below := 0
		for _, v := range r.c.Monitor.Violations() {
			if v.Kind == monitor.InvHWBelowMinISR {
				below++
			}
		}
		assert.Equal(t, version < "3.7", below > 0, "%s: the monitor names the HW moving below min ISR", version)
		return len(events(r, journal.EvNotEnoughReplicasAfterAppend, orders0))
	}
	before, after := neaa("3.6"), neaa("3.7")
	t.Logf("NOT_ENOUGH_REPLICAS_AFTER_APPEND: %d at 3.6, %d at 3.7", before, after)
	assert.Positive(t, before)
	assert.Zero(t, after)
}

// KIP-966. RF=3, min.insync.replicas=2: one follower is down, the other
// is cut off and fenced, leaving the leader alone in the ISR; then the
// leader loses power, losing the recent writes it had not written back.
// Without eligible leader replicas it is the last replica standing, is
// elected again when it returns, and the cut-off follower truncates to it:
// acknowledged writes are gone. With ELR the cut-off follower, which left
// the ISR while it was below min ISR and so holds every committed record,
// is eligible; the leader's unclean restart takes it out of the ISR and the
// ELR, and the follower is elected when it returns: nothing is lost.
func TestKIP966LastReplicaStandingAfterPowerLoss(t *testing.T) {
	lost := func(elr bool) int {
		r := newRun(t, setup{seed: 3, duration: 80 * time.Second, stopAt: 50 * time.Second, brokers: 3, rf: 3, parts: 1, minISR: 2, acks: config.AcksAll, idem: true, rate: 200,
			configure: func(s *cluster.Spec) { s.Broker.ELR = elr }})
		r.at(5*time.Second, "crash broker-2", func() { r.w.Crash(r.node(2)) })
		cut := func(block bool) {
			for _, other := range r.w.Nodes() {
				if other == r.node(1) {
					continue
				}
				if block {
					r.w.Network().Block(r.node(1), other)
					r.w.Network().Block(other, r.node(1))
				} else {
					r.w.Network().Unblock(r.node(1), other)
					r.w.Network().Unblock(other, r.node(1))
				}
			}
		}
		r.at(20*time.Second, "cut broker-1 off", func() { cut(true) })
		r.at(32*time.Second, "power loss of the leader", func() { r.w.PowerLoss(r.node(0)) })
		r.at(34*time.Second, "restart it", func() { r.w.Restart(r.node(0)) })
		r.at(52*time.Second, "heal broker-1", func() { cut(false) })
		r.at(60*time.Second, "restart broker-2", func() { r.w.Restart(r.node(2)) })
		r.execute()
		if elr {
			elected := events(r, journal.EvELRElected, orders0)
			if assert.NotEmpty(t, elected) {
				assert.Equal(t, protocol.BrokerID(1), elected[len(elected)-1].Broker, "the eligible follower is elected")
			}
		}
		return len(r.durability().Violations)
	}
	without, with := lost(false), lost(true)
	t.Logf("acknowledged writes lost: %d without ELR, %d with", without, with)
	assert.Positive(t, without)
	assert.Zero(t, with)
}
