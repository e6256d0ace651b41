package cluster_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/check"
	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster"
	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/metadata"
	"github.com/tideline-sim/tideline/cluster/monitor"
	"github.com/tideline-sim/tideline/cluster/node"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/cluster/raft"
	"github.com/tideline-sim/tideline/network"
	"github.com/tideline-sim/tideline/sim"
)

func quorumRun(t *testing.T, seed sim.Seed, controllers int, link network.Link) *run {
	return newRun(t, setup{seed: seed, duration: 40 * time.Second, brokers: 3, rf: 3, parts: 3, minISR: 2, acks: config.AcksAll, idem: true, rate: 200, link: link,
		configure: func(s *cluster.Spec) { s.Controllers = controllers }})
}

func coldQuorumRun(t *testing.T, seed sim.Seed, controllers int, link network.Link) *run {
	return newRun(t, setup{seed: seed, duration: 40 * time.Second, brokers: 3, rf: 3, parts: 3, minISR: 2, acks: config.AcksAll, idem: true, rate: 200, link: link,
		configure: func(s *cluster.Spec) {
			s.Controllers = controllers
			s.Broker.Quorum.ColdStart = true
		}})
}

// A formed quorum (the default) starts in epoch 1 under controller-0,
// active within milliseconds, as a running cluster's would be.
func TestFormedQuorumIsActiveAtOnce(t *testing.T) {
	r := quorumRun(t, 1, 3, network.Link{})
	r.execute()
	active := r.controllerEvents(journal.EvControllerActive)
	require.NotEmpty(t, active)
	assert.Less(t, active[0].Time.Since(), 50*time.Millisecond)
	assert.Equal(t, int32(0), active[0].Voter)
	assert.Equal(t, int32(1), active[0].Epoch)
	n := r.count()
	assert.Equal(t, n[journal.Invoke], n[journal.Ok])
}

// controllerEvents returns the times of the quorum's events of a kind.
func (r *run) controllerEvents(kind journal.EventKind) []journal.Event {
	var out []journal.Event
	for _, e := range r.c.Journal.Events() {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

func (r *run) quorumResult() check.Result {
	return check.MetadataQuorum(r.c.Monitor.QuorumViolations(), r.c.Quorum())
}

// From a cold start three controllers elect one leader within the
// election timeout's bounds (1-2 s, plus a pre-vote and a vote round), and
// it becomes the active controller once its first record commits.
func TestQuorumElectsOneLeaderFromAColdStart(t *testing.T) {
	r := coldQuorumRun(t, 1, 3, network.Link{})
	r.execute()
	elected := r.controllerEvents(journal.EvControllerElected)
	require.Len(t, elected, 1, "one election, no split")
	assert.GreaterOrEqual(t, elected[0].Time.Since(), time.Second)
	assert.Less(t, elected[0].Time.Since(), 2500*time.Millisecond)
	active := r.controllerEvents(journal.EvControllerActive)
	require.Len(t, active, 1)
	assert.Less(t, active[0].Time.Sub(elected[0].Time), 100*time.Millisecond)
	res := r.quorumResult()
	assert.True(t, res.OK(), "%v", res.Violations)
	id, ok := r.c.ActiveController()
	require.True(t, ok)
	assert.Equal(t, r.c.Dir.Controllers[elected[0].Voter], id)
	assert.NotEqual(t, protocol.NoLeader, r.c.State(protocol.TopicPartition{Topic: "orders"}).Leader, "the committed metadata names leaders")
}

// The active controller dies: a standby notices within the fetch timeout
// (2 s), wins a pre-vote and a vote, and is active within about 3-4 s; the
// partitions never notice, since their leaders keep serving.
func TestQuorumReElectsAfterTheLeaderCrashes(t *testing.T) {
	r := quorumRun(t, 2, 3, network.Link{})
	var crashed sim.NodeID
	r.at(10*time.Second, "crash the active controller", func() {
		id, ok := r.c.ActiveController()
		require.True(t, ok)
		crashed = id
		r.w.Crash(id)
	})
	r.execute()
	active := r.controllerEvents(journal.EvControllerActive)
	require.Len(t, active, 2)
	// A follower's fetch timeout (2 s) runs from its last answered fetch,
	// which a parked fetch (up to 500 ms) may have been before the crash.
	took := active[1].Time.Sub(clock.At(10 * time.Second))
	assert.Greater(t, took, 1500*time.Millisecond, "not before the fetch timeout")
	assert.Less(t, took, 5*time.Second)
	assert.NotEqual(t, crashed, r.c.Dir.Controllers[active[1].Voter])
	assert.True(t, r.quorumResult().OK())
	assert.Zero(t, r.c.Monitor.Violations(), "no protocol rule broken")
	assert.Empty(t, r.controllerEvents(journal.EvFenced), "a new controller gives every broker a fresh session: nobody is fenced")
	n := r.count()
	assert.Equal(t, n[journal.Invoke], n[journal.Ok], "every write acknowledged: partition leaders kept serving")
	assert.Greater(t, n[journal.Ok], 5000)
}

// KIP-595's graceful resignation: an active controller asked to stop first
// sends EndQuorumEpoch to the other voters, most up to date first; the
// first successor campaigns at once, the second after half the maximum
// election backoff (Kafka's strict exponential backoff: 500 ms) — and with
// pre-vote (KIP-996) it grants nothing before its overridden fetch timeout
// runs out — so a new controller is active in about 0.5 s, not after the
// 2 s fetch timeout a crash costs (TestQuorumReElectsAfterTheLeaderCrashes).
func TestStoppedControllerEndsItsEpochFirst(t *testing.T) {
	for seed := sim.Seed(1); seed <= 5; seed++ {
		r := quorumRun(t, seed, 3, network.Link{})
		var stopped sim.NodeID
		r.at(10*time.Second, "stop the active controller", func() {
			id, ok := r.c.ActiveController()
			require.True(t, ok)
			stopped = id
			r.w.Signal(id, node.Terminate{})
		})
		r.execute()
		require.Len(t, r.controllerEvents(journal.EvControllerEndedEpoch), 1, "seed %d", seed)
		active := r.controllerEvents(journal.EvControllerActive)
		require.Len(t, active, 2, "seed %d", seed)
		took := active[1].Time.Sub(clock.At(10 * time.Second))
		assert.Less(t, took, time.Second, "seed %d: no fetch timeout to wait out", seed)
		assert.NotEqual(t, stopped, r.c.Dir.Controllers[active[1].Voter])
		assert.True(t, r.quorumResult().OK(), "seed %d", seed)
		assert.Zero(t, r.c.Monitor.Violations(), "seed %d", seed)
		t.Logf("seed %d: a new active controller %v after the stop", seed, took)
	}
}

// An isolated leader stops believing it leads within check-quorum's 1.5 x
// fetch timeout (3 s); the majority elects another meanwhile.
func TestIsolatedControllerResignsByCheckQuorum(t *testing.T) {
	r := quorumRun(t, 3, 3, network.Link{})
	var isolated sim.NodeID
	r.at(10*time.Second, "isolate the active controller", func() {
		id, _ := r.c.ActiveController()
		isolated = id
		r.w.Network().Isolate(id)
	})
	r.at(25*time.Second, "heal", func() { r.w.Network().Heal() })
	r.execute()
	resigned := r.controllerEvents(journal.EvControllerResigned)
	require.NotEmpty(t, resigned)
	assert.Equal(t, isolated, r.c.Dir.Controllers[resigned[0].Voter])
	// 1.5 x fetch timeout from the last fetch heard, which a parked fetch
	// may have been up to 500 ms before; checked every second.
	took := resigned[0].Time.Sub(clock.At(10 * time.Second))
	assert.GreaterOrEqual(t, took, 2500*time.Millisecond)
	assert.Less(t, took, 4500*time.Millisecond)
	elected := r.controllerEvents(journal.EvControllerElected)
	require.GreaterOrEqual(t, len(elected), 2)
	assert.NotEqual(t, isolated, r.c.Dir.Controllers[elected[1].Voter])
	assert.True(t, r.quorumResult().OK(), "%v", r.quorumResult().Violations)
}

// Under 5% message loss and the controllers partitioned again and again,
// over many seeds, no epoch ever has two leaders, no committed offset
// differs between voters, and the quorum recovers an active controller.
func TestQuorumSafetyUnderPartitionsAndLoss(t *testing.T) {
	for seed := sim.Seed(1); seed <= 30; seed++ {
		r := coldQuorumRun(t, seed, 3, network.Link{Latency: 2 * time.Millisecond, Jitter: 3 * time.Millisecond, Loss: 0.05})
		ctl := r.c.Dir.Controllers
		for i, at := range []time.Duration{5, 9, 13, 17, 21} {
			a := ctl[i%3]
			r.at(at*time.Second, "partition", func() {
				r.w.Network().Partition([]sim.NodeID{a}, append(r.c.Dir.Brokers, ctl[(i+1)%3], ctl[(i+2)%3]))
			})
			r.at(at*time.Second+2500*time.Millisecond, "heal", func() { r.w.Network().Heal() })
		}
		r.execute()
		res := r.quorumResult()
		require.True(t, res.OK(), "seed %d: %v", seed, res.Violations)
	}
}

// A voter that missed records cannot win an election: voters refuse a log
// less up to date than theirs (Raft's rule, Kafka's OffsetAndEpoch order).
func TestLaggingVoterCannotWin(t *testing.T) {
	r := quorumRun(t, 4, 3, network.Link{})
	ctl := r.c.Dir.Controllers
	var lagging sim.NodeID
	r.at(8*time.Second, "cut a follower off", func() {
		active, _ := r.c.ActiveController()
		for _, id := range ctl {
			if id != active {
				lagging = id
				break
			}
		}
		r.w.Network().Isolate(lagging)
	})
	// While it is cut off the others commit more metadata (an ISR change),
	// then the leader dies and the lagging voter returns at once.
	r.at(10*time.Second, "crash broker-2", func() { r.w.Crash(r.node(2)) })
	r.at(20*time.Second, "crash the active controller, heal", func() {
		active, _ := r.c.ActiveController()
		r.w.Crash(active)
		r.w.Network().Heal()
	})
	r.execute()
	active := r.controllerEvents(journal.EvControllerActive)
	require.GreaterOrEqual(t, len(active), 2)
	last := active[len(active)-1]
	assert.NotEqual(t, lagging, ctl[last.Voter], "the voter that missed records did not win")
	refused := false
	for _, e := range r.controllerEvents(journal.EvPreVoteRejected) {
		refused = refused || ctl[e.Voter] == lagging && e.Time >= clock.At(20*time.Second)
	}
	assert.True(t, refused, "it stood once the partition healed, and was refused")
	assert.True(t, r.quorumResult().OK(), "%v", r.quorumResult().Violations)
}

// Committed metadata survives a minority's power loss: voters sync the
// log before they answer, so what a majority acknowledged is on disk.
func TestCommittedMetadataSurvivesAMinorityPowerLoss(t *testing.T) {
	r := quorumRun(t, 5, 3, network.Link{})
	r.at(10*time.Second, "power loss of the active controller", func() {
		id, _ := r.c.ActiveController()
		r.w.PowerLoss(id)
	})
	r.at(14*time.Second, "restart it", func() {
		for _, id := range r.c.Dir.Controllers {
			r.w.Restart(id)
		}
	})
	r.execute()
	res := r.quorumResult()
	assert.True(t, res.OK(), "%v", res.Violations)
	for _, s := range r.c.Quorum() {
		assert.True(t, s.Up)
		assert.NotEmpty(t, s.Committed, "controller-%d caught up", s.Voter)
	}
}

// The checker catches what it promises to: a violation seen during the run,
// two active controllers, none active with a majority up, and a committed
// divergence at the end.
func TestMetadataQuorumCheckerCatches(t *testing.T) {
	seen := []monitor.QuorumViolation{{Kind: monitor.QuorumTwoLeaders, Voter: 1, Epoch: 3, Offset: -1, Detail: "controllers 0 and 1 both led epoch 3"}}
	res := check.MetadataQuorum(seen, []cluster.QuorumStatus{{Voter: 0, Up: true, Active: true, Committed: []string{"a", "b"}}})
	require.Len(t, res.Violations, 1)
	assert.Equal(t, monitor.QuorumTwoLeaders, res.Violations[0].Kind)

	res = check.MetadataQuorum(nil, []cluster.QuorumStatus{
		{Voter: 0, Up: true, Active: true, Committed: []string{"a", "b"}},
		{Voter: 1, Up: true, Active: true, Committed: []string{"a", "x"}},
		{Voter: 2, Up: false, Committed: []string{"a"}},
	})
	assert.ElementsMatch(t, []string{monitor.QuorumCommitDiverged, "two-active-controllers"}, kindsOf(res))

	res = check.MetadataQuorum(nil, []cluster.QuorumStatus{{Voter: 0, Up: true}, {Voter: 1, Up: true}, {Voter: 2}})
	assert.Equal(t, []string{"no-active-controller"}, kindsOf(res))
}

func kindsOf(r check.Result) []string {
	var out []string
	for _, v := range r.Violations {
		out = append(out, v.Kind)
	}
	return out
}

// TestSnapshotRestoresControllerState: KIP-630. With a snapshot every ten
// records (metadata.log.max.record.bytes.between.snapshots), a controller
// and a broker that crash and restart find the active controller's log
// starting past them and load its snapshot instead of the records before
// it; each then holds exactly the state that replaying the whole committed
// log to the same offset gives (the monitor keeps every entry any voter
// committed).
func TestSnapshotRestoresControllerState(t *testing.T) {
	r := newRun(t, setup{seed: 1, duration: 40 * time.Second, brokers: 3, rf: 3, parts: 6, minISR: 2, acks: config.AcksAll, idem: true, rate: 200,
		configure: func(s *cluster.Spec) {
			s.Controllers = 3
			s.Broker.Quorum.SnapshotBytes = 1000
		}})
	standby, broker1 := r.c.Dir.Controllers[1], r.node(1)
	r.at(5*time.Second, "crash controller-1", func() { r.w.Crash(standby) })
	r.at(15*time.Second, "restart controller-1", func() { r.w.Restart(standby) })
	r.at(8*time.Second, "crash broker-1", func() { r.w.Crash(broker1) })
	r.at(16*time.Second, "restart broker-1", func() { r.w.Restart(broker1) })
	r.execute()

	same := func(t *testing.T, got, want metadata.State) {
		t.Helper()
		assert.Equal(t, want.Version, got.Version)
		assert.Equal(t, want.Partitions.Slice(), got.Partitions.Slice())
		assert.Equal(t, want.Brokers, got.Brokers)
	}
	q, ok := r.c.Monitor.Voter(1).(*raft.Quorum[metadata.State])
	require.True(t, ok)
	require.Positive(t, q.LogStart(), "controller-1 restarted from a snapshot")
	st, ok := q.Committed()
	require.True(t, ok)
	want, ok := r.c.Monitor.CommittedEntry(q.HW() - 1)
	require.True(t, ok)
	same(t, st, want.Value)

	b := r.c.Broker(1)
	require.NotNil(t, b)
	img, start := b.MetadataImage()
	require.Positive(t, start, "broker-1 loaded the controller's snapshot")
	found := false
	for off := int64(0); ; off++ {
		e, ok := r.c.Monitor.CommittedEntry(off)
		if !ok {
			break
		}
		if e.Value.Version == img.Version {
			committed := e.Value.SharedImage()
			assert.Equal(t, committed.Partitions.Slice(), img.Partitions.Slice())
			found = true
		}
	}
	assert.True(t, found, "broker-1's image is a committed state")
	assert.Empty(t, r.c.Monitor.QuorumViolations())
}
