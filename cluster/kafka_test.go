package cluster_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster"
	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/network"
)

// twice builds and runs a scenario two times with the same seed, asserts
// both runs have the same trace hash, and returns the first.
func twice(t *testing.T, scenario func() *run) *run {
	t.Helper()
	a := scenario()
	a.execute()
	b := scenario()
	b.execute()
	require.Equal(t, a.w.TraceHash(), b.w.TraceHash(), "same seed, same trace")
	require.Equal(t, a.w.Events(), b.w.Events())
	return a
}

func events(r *run, kind journal.EventKind, tp protocol.TopicPartition) []journal.Event {
	var out []journal.Event
	for _, e := range r.c.Journal.Events() {
		if e.Kind == kind && (tp.Topic == "" || e.TP == tp) {
			out = append(out, e)
		}
	}
	return out
}

func logViolations(t *testing.T, r *run) {
	for i, v := range r.durability().Violations {
		if i == 5 {
			t.Logf("...")
			break
		}
		t.Logf("%v", v)
	}
}

// 1. RF=3, acks=all, min.insync.replicas=2: the leader crashes under load.
func TestLeaderCrashFailsOverWithoutLoss(t *testing.T) {
	crash := 10 * time.Second
	var old protocol.BrokerID
	r := twice(t, func() *run {
		r := newRun(t, setup{seed: 42, duration: 60 * time.Second, brokers: 3, rf: 3, parts: 3, minISR: 2, acks: config.AcksAll, idem: true, rate: 500})
		r.at(crash, "crash leader", func() {
			old = r.leader(orders0)
			r.w.Crash(r.node(old))
		})
		r.at(25*time.Second, "restart", func() { r.w.Restart(r.node(old)) })
		return r
	})
	elected := events(r, journal.EvElected, orders0)
	require.NotEmpty(t, elected, "a new leader is elected")
	e := elected[0]
	cfg := config.DefaultBrokerConfig()
	assert.NotEqual(t, old, e.Broker)
	assert.LessOrEqual(t, e.Time, clock.At(crash+cfg.SessionTimeout+cfg.SessionTimeout/8), "elected within the session timeout plus one check")
	assert.Greater(t, e.Time, clock.At(crash+cfg.SessionTimeout-cfg.HeartbeatInterval))

	res := r.durability()
	logViolations(t, r)
	assert.True(t, res.OK(), "no acknowledged write lost")
	n := r.count()
	t.Logf("sends %v; elected %v", n, e)
	assert.Greater(t, n[journal.Ok], 20000)

	final := r.c.State(orders0)
	assert.Len(t, final.ISR, 3, "the old leader rejoined the ISR: %v", final)
	for _, fl := range r.c.FinalLogs() {
		for b, log := range fl.Replicas {
			assert.Equal(t, slices.Collect(fl.Records.All()), slices.Collect(log.All()), "%v: broker %d caught up to the leader", fl.TP, b)
		}
	}
}

// 2. RF=3, acks=1: the leader acknowledges, then crashes before the
// followers fetch. The checker must report the lost offsets.
func TestAcks1LeaderCrashLosesAcknowledgedWrites(t *testing.T) {
	r := twice(t, func() *run {
		r := newRun(t, setup{seed: 7, duration: 40 * time.Second, brokers: 3, rf: 3, parts: 1, minISR: 1, acks: 1, rate: 500})
		// Followers fetch through a slow link, so they always trail the
		// leader by a few hundred milliseconds of acknowledged writes.
		r.at(5*time.Second, "slow fetches", func() {
			for _, f := range []protocol.BrokerID{1, 2} {
				r.w.Network().SlowLink(r.node(0), r.node(f), 300*time.Millisecond)
			}
		})
		r.at(10*time.Second, "crash leader", func() { r.w.Crash(r.node(0)) })
		r.at(11*time.Second, "heal", func() { r.w.Network().Heal() })
		r.at(20*time.Second, "restart", func() { r.w.Restart(r.node(0)) })
		return r
	})
	res := r.durability()
	logViolations(t, r)
	require.False(t, res.OK(), "acks=1 plus a leader crash must lose acknowledged writes")
	assert.Greater(t, len(res.Violations), 10)
	final := r.c.FinalLogs()[0]
	for _, v := range res.Violations {
		assert.Equal(t, orders0, v.TP)
		assert.Less(t, v.Ops[0].Time, clock.At(10*time.Second+10*time.Millisecond), "lost writes were acknowledged before the crash (the last acks in flight)")
	}
	assert.NotEmpty(t, events(r, journal.EvTruncated, orders0), "the old leader truncated its unreplicated tail on return")
	t.Logf("%d acknowledged writes lost; final log end %d", len(res.Violations), final.Records.Len())
}

// isolateFollowers cuts broker 0 (the leader) from the other brokers, both
// ways, leaving every link to the controller and the clients up.
func isolateFollowers(r *run) {
	for _, f := range []protocol.BrokerID{1, 2} {
		r.w.Network().Block(r.node(0), r.node(f))
		r.w.Network().Block(r.node(f), r.node(0))
	}
}

// 3. The ISR shrinks to the leader alone, then the leader dies.
func TestUncleanElection(t *testing.T) {
	scenario := func(unclean bool) func() *run {
		return func() *run {
			r := newRun(t, setup{seed: 3, duration: 60 * time.Second, brokers: 3, rf: 3, parts: 1, minISR: 1, acks: config.AcksAll, idem: true, rate: 200,
				configure: func(s *cluster.Spec) {
					s.Broker.ReplicaLagTimeMax = 5 * time.Second
					s.Broker.UncleanLeaderElection = unclean
				}})
			r.at(5*time.Second, "cut followers off", func() { isolateFollowers(r) })
			r.at(20*time.Second, "crash leader", func() {
				r.w.Crash(r.node(0))
				r.w.Network().Heal()
			})
			r.at(40*time.Second, "restart", func() { r.w.Restart(r.node(0)) })
			return r
		}
	}
	t.Run("enabled loses acknowledged writes", func(t *testing.T) {
		r := twice(t, scenario(true))
		require.NotEmpty(t, events(r, journal.EvISRShrink, orders0))
		require.NotEmpty(t, events(r, journal.EvUncleanElected, orders0), "a stale follower is elected")
		res := r.durability()
		logViolations(t, r)
		assert.False(t, res.OK(), "the writes only the old leader had are gone")
		t.Logf("%d acknowledged writes lost", len(res.Violations))
	})
	t.Run("disabled keeps the partition offline", func(t *testing.T) {
		r := twice(t, scenario(false))
		assert.Empty(t, events(r, journal.EvUncleanElected, orders0))
		offline := events(r, journal.EvOffline, orders0)
		require.NotEmpty(t, offline, "no ISR member is alive: no leader")
		// Nothing is acknowledged while the partition has no leader.
		back := events(r, journal.EvElected, orders0)
		require.NotEmpty(t, back)
		for _, op := range r.c.History.Ops() {
			if op.F == journal.OpSend && op.Type == journal.Ok {
				assert.False(t, op.Time > offline[0].Time && op.Time < back[0].Time, "acknowledged while offline: %v", op)
			}
		}
		assert.Equal(t, protocol.BrokerID(0), back[0].Broker, "the last ISR member returns as leader")
		assert.True(t, r.durability().OK(), "no acknowledged write lost")
	})
}

// 4. RF=1: the only replica's broker crashes.
func TestSingleReplica(t *testing.T) {
	scenario := func(powerLoss bool) func() *run {
		return func() *run {
			r := newRun(t, setup{seed: 5, duration: 50 * time.Second, brokers: 3, rf: 1, parts: 1, minISR: 1, acks: config.AcksAll, idem: true, rate: 200})
			r.at(10*time.Second, "crash", func() {
				if powerLoss {
					r.w.PowerLoss(r.node(0))
				} else {
					r.w.Crash(r.node(0))
				}
			})
			r.at(25*time.Second, "restart", func() { r.w.Restart(r.node(0)) })
			return r
		}
	}
	t.Run("crash: unavailable until restart, nothing lost", func(t *testing.T) {
		r := twice(t, scenario(false))
		var during, after int
		for _, op := range r.c.History.Ops() {
			if op.F == journal.OpSend && op.Type == journal.Ok {
				switch {
				case op.Time > clock.At(10*time.Second+10*time.Millisecond) && op.Time < clock.At(25*time.Second):
					during++
				case op.Time >= clock.At(25*time.Second):
					after++
				}
			}
		}
		assert.Zero(t, during, "no acknowledgement while the only replica is down")
		assert.Positive(t, after, "writes succeed again after the restart")
		assert.True(t, r.durability().OK())
	})
	t.Run("power loss without flush: acknowledged data gone", func(t *testing.T) {
		r := twice(t, scenario(true))
		res := r.durability()
		logViolations(t, r)
		require.False(t, res.OK())
		assert.Greater(t, len(res.Violations), 1000, "everything written before the power loss was in the page cache only")
	})
}

// 5. A lagging follower leaves the ISR and comes back; below
// min.insync.replicas, acks=all produces fail with NOT_ENOUGH_REPLICAS.
func TestSlowFollowerLeavesAndRejoinsISR(t *testing.T) {
	r := twice(t, func() *run {
		r := newRun(t, setup{seed: 11, duration: 60 * time.Second, brokers: 3, rf: 3, parts: 1, minISR: 2, acks: config.AcksAll, idem: true, rate: 300,
			configure: func(s *cluster.Spec) {
				s.Broker.ReplicaLagTimeMax = 5 * time.Second
				// NOT_ENOUGH_REPLICAS is retriable: give up soon enough
				// for the refusal to surface as a failed send.
				s.Producers[0].DeliveryTimeout = 2 * time.Second
				s.Producers[0].RequestTimeout = time.Second
			}})
		// Broker 2's fetches take 10 s to answer: it falls out of sync.
		r.at(5*time.Second, "slow follower", func() { r.w.Network().SlowLink(r.node(0), r.node(2), 10*time.Second) })
		r.at(20*time.Second, "heal", func() { r.w.Network().Heal() })
		// Then both followers are cut off: the ISR falls below 2.
		r.at(30*time.Second, "cut followers off", func() { isolateFollowers(r) })
		r.at(42*time.Second, "heal", func() { r.w.Network().Heal() })
		return r
	})
	shrinks := events(r, journal.EvISRShrink, orders0)
	expands := events(r, journal.EvISRExpand, orders0)
	require.NotEmpty(t, shrinks)
	require.NotEmpty(t, expands)
	first := shrinks[0]
	assert.Contains(t, first.Detail, "[0 1 2] -> [0 1]")
	assert.GreaterOrEqual(t, first.Time, clock.At(10*time.Second), "removed after replica.lag.time.max.ms")
	assert.LessOrEqual(t, first.Time, clock.At(5*time.Second+7500*time.Millisecond+time.Second))
	assert.Contains(t, expands[0].Detail, "-> [0 1 2]")

	notEnough := 0
	for _, op := range r.c.History.Ops() {
		if op.F == journal.OpSend && op.Type == journal.Fail && op.Err == protocol.NotEnoughReplicas {
			notEnough++
			assert.Greater(t, op.Time, clock.At(30*time.Second))
		}
	}
	assert.Positive(t, notEnough, "acks=all refused with NOT_ENOUGH_REPLICAS below min.insync.replicas")
	assert.Len(t, r.c.State(orders0).ISR, 3, "everyone back in sync at the end")
	assert.True(t, r.durability().OK())
	t.Logf("shrinks %d, expands %d, NOT_ENOUGH_REPLICAS failures %d", len(shrinks), len(expands), notEnough)
}

// 6. KIP-101: a follower restarts and the leader dies right after. With
// high-watermark truncation the restarted follower cut away committed
// records and becomes leader without them; with leader epochs it kept them.
func TestKIP101(t *testing.T) {
	scenario := func(version string) func() *run {
		return func() *run {
			r := newRun(t, setup{seed: 1, duration: 60 * time.Second, brokers: 2, rf: 2, parts: 1, minISR: 1, acks: config.AcksAll, idem: true, rate: 300,
				configure: func(s *cluster.Spec) { s.Broker.Protocol = protocol.MustProtocol(version) }})
			r.at(12*time.Second, "restart follower", func() {
				r.w.Crash(r.node(1))
				r.w.Restart(r.node(1))
			})
			r.at(12*time.Second+time.Millisecond, "crash leader", func() { r.w.Crash(r.node(0)) })
			r.at(35*time.Second, "restart old leader", func() { r.w.Restart(r.node(0)) })
			return r
		}
	}
	t.Run("high-watermark truncation loses committed writes", func(t *testing.T) {
		r := twice(t, scenario("0.10.2"))
		require.NotEmpty(t, events(r, journal.EvTruncated, orders0))
		res := r.durability()
		logViolations(t, r)
		assert.False(t, res.OK(), "KIP-101's message loss")
		t.Logf("%d acknowledged writes lost", len(res.Violations))
		require.NotEmpty(t, r.c.Monitor.Divergences(), "KIP-101's divergence: live replicas disagree below both high watermarks")
		t.Logf("first divergence: %+v", r.c.Monitor.Divergences()[0])
	})
	t.Run("leader-epoch truncation loses nothing", func(t *testing.T) {
		r := twice(t, scenario("0.11.0"))
		res := r.durability()
		logViolations(t, r)
		assert.True(t, res.OK())
		assert.Empty(t, r.c.Monitor.Divergences())
		assert.Equal(t, protocol.BrokerID(1), events(r, journal.EvElected, orders0)[0].Broker)
	})
}

// 7. Idempotence: retries and duplicated messages never duplicate records.
func TestIdempotentProducerWritesEachRecordOnce(t *testing.T) {
	scenario := func(idempotent bool) func() *run {
		return func() *run {
			acks := config.AcksAll
			r := newRun(t, setup{seed: 13, duration: 40 * time.Second, brokers: 3, rf: 3, parts: 2, minISR: 2, acks: acks, idem: idempotent, rate: 300,
				link: network.Link{Latency: 2 * time.Millisecond, Jitter: 2 * time.Millisecond, Loss: 0.02, Duplicate: 0.2},
				configure: func(s *cluster.Spec) {
					// Responses often outlive the request timeout, so the
					// producer retries batches the leader already wrote.
					s.Producers[0].RequestTimeout = 15 * time.Millisecond
				}})
			r.at(8*time.Second, "slow leader", func() {
				for b := range 3 {
					r.w.Network().SlowLink(r.node(protocol.BrokerID(b)), r.c.Producers[0], 12*time.Millisecond)
				}
			})
			r.at(15*time.Second, "crash leader", func() { r.w.Crash(r.node(r.leader(orders0))) })
			r.at(22*time.Second, "restart", func() {
				for b := range 3 {
					r.w.Restart(r.node(protocol.BrokerID(b)))
				}
			})
			return r
		}
	}
	duplicates := func(r *run) int {
		n := 0
		for _, fl := range r.c.FinalLogs() {
			seen := map[int64]bool{}
			for rec := range fl.Records.All() {
				if seen[rec.Payload] {
					n++
				}
				seen[rec.Payload] = true
			}
		}
		return n
	}
	t.Run("idempotent", func(t *testing.T) {
		r := twice(t, scenario(true))
		assert.Zero(t, duplicates(r))
		assert.NotEmpty(t, events(r, journal.EvDuplicateBatch, protocol.TopicPartition{}), "retried batches were recognised")
		assert.True(t, r.durability().OK())
		t.Logf("duplicate batches rejected: %d; sends %v", len(events(r, journal.EvDuplicateBatch, protocol.TopicPartition{})), r.count())
	})
	t.Run("not idempotent", func(t *testing.T) {
		r := twice(t, scenario(false))
		assert.Positive(t, duplicates(r), "without idempotence the same retries write records twice")
		t.Logf("duplicates: %d", duplicates(r))
	})
}

// The controller is down when a leader dies: no election until it returns.
// Then auto.leader.rebalance.enable moves leadership back to the preferred
// replica once it has rejoined the ISR.
func TestControllerDownAndPreferredElection(t *testing.T) {
	r := twice(t, func() *run {
		r := newRun(t, setup{seed: 21, duration: 70 * time.Second, brokers: 3, rf: 3, parts: 1, minISR: 2, acks: config.AcksAll, idem: true, rate: 200,
			configure: func(s *cluster.Spec) { s.Broker.LeaderImbalanceCheck = 5 * time.Second }})
		r.at(10*time.Second, "crash controller", func() { r.w.Crash(r.c.Dir.Controller) })
		r.at(12*time.Second, "crash leader", func() { r.w.Crash(r.node(0)) })
		r.at(30*time.Second, "restart controller", func() { r.w.Restart(r.c.Dir.Controller) })
		r.at(42*time.Second, "restart broker 0", func() { r.w.Restart(r.node(0)) })
		return r
	})
	elected := events(r, journal.EvElected, orders0)
	require.NotEmpty(t, elected)
	assert.Greater(t, elected[0].Time, clock.At(30*time.Second), "no election while the controller is down")
	assert.NotEqual(t, protocol.BrokerID(0), elected[0].Broker)

	preferred := events(r, journal.EvPreferredElected, orders0)
	require.NotEmpty(t, preferred, "leadership returns to the preferred replica")
	assert.Equal(t, protocol.BrokerID(0), preferred[0].Broker)
	assert.Greater(t, preferred[0].Time, clock.At(42*time.Second))
	assert.Equal(t, protocol.BrokerID(0), r.c.State(orders0).Leader)
	assert.True(t, r.durability().OK())
}
