package check

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster"
	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/monitor"
	"github.com/tideline-sim/tideline/cluster/protocol"
)

func at(ms int) clock.Time { return clock.At(time.Duration(ms) * time.Millisecond) }

func kinds(r Result) []string {
	var out []string
	for _, v := range r.Violations {
		out = append(out, v.Kind)
	}
	return out
}

// finalOf is a partition with a leader, its ISR and every replica's log.
func finalOf(tp protocol.TopicPartition, leader protocol.BrokerID, isr []protocol.BrokerID, hws []int64, logs ...protocol.Records) cluster.FinalLog {
	replicas := []protocol.BrokerID{}
	for b := range logs {
		replicas = append(replicas, protocol.BrokerID(b))
	}
	f := cluster.FinalLog{TP: tp, Leader: leader, Replicas: logs, HWs: hws,
		State: protocol.PartitionState{TP: tp, Replicas: replicas, ISR: isr, Leader: leader}}
	if leader != protocol.NoLeader {
		f.Records = logs[leader]
	}
	return f
}

func TestReplicaAgreement(t *testing.T) {
	same := log(1, 2, 3)
	t.Run("clean", func(t *testing.T) {
		res := ReplicaAgreement(nil, []cluster.FinalLog{finalOf(tp0, 0, []protocol.BrokerID{0, 1}, []int64{3, 3}, same, same)})
		assert.True(t, res.OK(), "%v", res.Violations)
	})
	t.Run("two live replicas disagreed below both high watermarks during the run", func(t *testing.T) {
		divergences := []monitor.Divergence{
			{Time: at(20), TP: tp0, A: 1, B: 0, HWA: 3, HWB: 2, Offset: 1},
			{Time: at(30), TP: tp0, A: 2, B: 0, HWA: 3, HWB: 2, Offset: 1},
		}
		res := ReplicaAgreement(divergences, nil)
		require.Equal(t, []string{"divergence-below-hw"}, kinds(res), "one report per partition")
		assert.Equal(t, int64(1), res.Violations[0].Offset)
		assert.Contains(t, res.Violations[0].Message, "at 0.020000s brokers 1 and 0 differ at offset 1")
	})
	t.Run("ISR member differs below the high watermark at the end", func(t *testing.T) {
		res := ReplicaAgreement(nil, []cluster.FinalLog{finalOf(tp0, 0, []protocol.BrokerID{0, 1}, []int64{3, 3}, log(1, 2, 3), log(1, 9, 3))})
		require.Equal(t, []string{"isr-diverged"}, kinds(res))
		assert.Equal(t, int64(1), res.Violations[0].Offset)
	})
	t.Run("two replicas differ below both high watermarks", func(t *testing.T) {
		res := ReplicaAgreement(nil, []cluster.FinalLog{finalOf(tp0, 0, []protocol.BrokerID{0}, []int64{3, 2, 2}, log(1, 2, 3), log(1, 2), log(5, 2))})
		require.Equal(t, []string{"divergence-below-hw", "divergence-below-hw"}, kinds(res))
		assert.Contains(t, res.Violations[0].Message, "brokers 0 and 2 differ at offset 0")
		assert.Contains(t, res.Violations[1].Message, "brokers 1 and 2 differ at offset 0")
	})
}

func TestLeaderUniqueness(t *testing.T) {
	elected := func(ms int, b protocol.BrokerID, epoch int32) journal.Event {
		return journal.Event{Time: at(ms), Node: "controller", Kind: journal.EvElected, TP: tp0, Epoch: epoch, Broker: b}
	}
	became := func(ms int, b protocol.BrokerID, epoch int32) journal.Event {
		return journal.Event{Time: at(ms), Node: "broker", Kind: journal.EvBecameLeader, TP: tp0, Epoch: epoch, Broker: b}
	}
	t.Run("clean, with a harmless zombie noted", func(t *testing.T) {
		events := []journal.Event{became(0, 0, 0), elected(100, 1, 1), became(101, 1, 1),
			{Time: at(300), Kind: journal.EvBecameFollower, TP: tp0, Broker: 0}}
		acks := []journal.AckSample{{Broker: 0, TP: tp0, Epoch: 0}, {Broker: 1, TP: tp0, Epoch: 1}}
		res := LeaderUniqueness(events, acks, at(1000))
		assert.True(t, res.OK(), "%v", res.Violations)
		require.Len(t, res.Notes, 1)
		assert.Contains(t, res.Notes[0], "brokers 0 (epoch 0) and 1 (epoch 1) both believed they led from 0.101000s to 0.300000s")
	})
	t.Run("a crash ends a belief", func(t *testing.T) {
		events := []journal.Event{became(0, 0, 0), {Time: at(50), Kind: journal.EvCrashed, Broker: 0}, elected(100, 1, 1), became(101, 1, 1)}
		assert.Empty(t, LeaderUniqueness(events, nil, at(1000)).Notes)
	})
	t.Run("epoch goes backwards", func(t *testing.T) {
		res := LeaderUniqueness([]journal.Event{elected(0, 1, 2), elected(10, 2, 1)}, nil, at(100))
		assert.Equal(t, []string{"epoch-regressed"}, kinds(res))
	})
	t.Run("two leaders in one epoch", func(t *testing.T) {
		res := LeaderUniqueness([]journal.Event{became(0, 0, 3), became(10, 1, 3)}, nil, at(100))
		assert.Equal(t, []string{"two-leaders"}, kinds(res))
	})
	t.Run("two brokers commit at one epoch", func(t *testing.T) {
		acks := []journal.AckSample{{Time: at(1), Broker: 0, TP: tp0, Epoch: 4, Offset: 10}, {Time: at(2), Broker: 0, TP: tp0, Epoch: 4, Offset: 11}, {Time: at(3), Broker: 2, TP: tp0, Epoch: 4, Offset: 10}}
		res := LeaderUniqueness(nil, acks, at(100))
		require.Equal(t, []string{"split-brain-commit"}, kinds(res))
		assert.Contains(t, res.Violations[0].Message, "brokers 0 (at 0.001000s, offset 10) and 2 (at 0.003000s, offset 10)")
	})
}

func poll(process string, tp protocol.TopicPartition, offset, payload, hw int64) journal.Op {
	return journal.Op{Process: process, Type: journal.Ok, F: journal.OpPoll, TP: tp, Offset: offset, Payload: payload, HW: hw}
}

func started(process string, tp protocol.TopicPartition) journal.Op {
	return journal.Op{Process: process, Type: journal.Ok, F: journal.OpStart, TP: tp, Offset: 0, Payload: -1}
}

func TestConsumerSafety(t *testing.T) {
	final := []cluster.FinalLog{{TP: tp0, Leader: 0, Records: log(10, 11, 12, 13)}}
	check := func(ops ...journal.Op) Result { return ConsumerSafety(journal.HistoryOf(ops...), final) }
	t.Run("clean, two consumers and a restart", func(t *testing.T) {
		res := check(started("c0", tp0), started("c1", tp0), poll("c0", tp0, 0, 10, 4), poll("c1", tp0, 0, 10, 4), poll("c0", tp0, 1, 11, 4),
			started("c0", tp0), poll("c0", tp0, 0, 10, 4))
		assert.True(t, res.OK(), "%v", res.Violations)
	})
	t.Run("poll-skip", func(t *testing.T) {
		res := check(started("c0", tp0), poll("c0", tp0, 0, 10, 4), poll("c0", tp0, 2, 12, 4))
		require.Equal(t, []string{"poll-skip"}, kinds(res))
		assert.Equal(t, "c0 read offset 2 after 0: skipped 1 records", res.Violations[0].Message)
	})
	t.Run("nonmonotonic-poll", func(t *testing.T) {
		res := check(started("c0", tp0), poll("c0", tp0, 0, 10, 4), poll("c0", tp0, 1, 11, 4), poll("c0", tp0, 1, 11, 4))
		assert.Equal(t, []string{"nonmonotonic-poll"}, kinds(res))
	})
	t.Run("read-above-hw", func(t *testing.T) {
		res := check(started("c0", tp0), poll("c0", tp0, 0, 10, 0))
		assert.Equal(t, []string{"read-above-hw"}, kinds(res))
	})
	t.Run("inconsistent-offsets and phantom-read", func(t *testing.T) {
		res := check(started("c0", tp0), started("c1", tp0), poll("c0", tp0, 0, 10, 4), poll("c1", tp0, 0, 99, 4))
		assert.Equal(t, []string{"inconsistent-offsets", "phantom-read"}, kinds(res))
	})
	t.Run("duplicate of an idempotent write", func(t *testing.T) {
		send := journal.Op{Type: journal.Invoke, F: journal.OpSend, TP: tp0, Payload: 10, Idempotent: true}
		dupFinal := []cluster.FinalLog{{TP: tp0, Leader: 0, Records: log(10, 10)}}
		res := ConsumerSafety(journal.HistoryOf(send, started("c0", tp0), poll("c0", tp0, 0, 10, 4), poll("c0", tp0, 1, 10, 4)), dupFinal)
		assert.Equal(t, []string{"duplicate"}, kinds(res))
	})
}

func TestNoDuplicates(t *testing.T) {
	invoke := func(payload int64, idempotent bool) journal.Op {
		return journal.Op{Type: journal.Invoke, F: journal.OpSend, TP: tp0, Payload: payload, Idempotent: idempotent}
	}
	t.Run("clean", func(t *testing.T) {
		res := NoDuplicates(journal.HistoryOf(invoke(1, true), invoke(2, true)), []cluster.FinalLog{{TP: tp0, Records: log(1, 2)}})
		assert.True(t, res.OK())
	})
	t.Run("at-least-once is allowed without idempotence, and counted", func(t *testing.T) {
		history, final := journal.HistoryOf(invoke(1, false), invoke(2, true)), []cluster.FinalLog{{TP: tp0, Records: log(1, 1, 2, 1)}}
		res := NoDuplicates(history, final)
		assert.True(t, res.OK())
		require.Len(t, res.Notes, 1)
		assert.Contains(t, res.Notes[0], "2 writes without idempotence")
		assert.Equal(t, 2, Duplicated(history, final), "the duplicated measure")
	})
	t.Run("duplicates", func(t *testing.T) {
		res := NoDuplicates(journal.HistoryOf(invoke(1, true), invoke(2, true)), []cluster.FinalLog{{TP: tp0, Records: log(1, 2, 1, 2, 2)}})
		require.Equal(t, []string{"duplicate", "duplicate", "duplicate"}, kinds(res))
		assert.Equal(t, "payload 1 is at offsets 0 and 2", res.Violations[0].Message)
		assert.Equal(t, "payload 2 is at offsets 1 and 4", res.Violations[2].Message)
	})
	t.Run("the story starts from the send", func(t *testing.T) {
		history := ack(1, 0, 100, 200)
		history[0].Idempotent = true
		res := NoDuplicates(journal.HistoryOf(history...), []cluster.FinalLog{{TP: tp0, Records: log(1, 1)}})
		require.Len(t, res.Violations, 1)
		story := Story(res.Violations[0], nil, nil)
		require.NotEmpty(t, story)
		assert.Equal(t, "1. 0.100000s p0 sent payload 1 to orders/0", story[0])
	})
}

// A rule broken at an instant tells what led up to it: the faults and the
// protocol steps before, nothing after.
func TestStoryOfAnInstantViolationEndsThere(t *testing.T) {
	v := Violation{Checker: ProtocolInvariantsName, Kind: monitor.InvISRAdmittedBehind, TP: tp0, Offset: 31, At: at(5000),
		Message: at(5000).String() + " broker 1 joined the ISR with log end 31, below leader 0's high watermark 40"}
	events := []journal.Event{
		{Time: at(1000), Node: "faults", Kind: journal.EvFault, Detail: "partition [broker-1] | rest for 3s"},
		{Time: at(4999), Node: "controller", Kind: journal.EvISRExpand, TP: tp0, Detail: "isr [0 2] -> [0 1 2]; logs: broker 0 end 40 hw 40 broker 1 end 31 hw 30"},
		{Time: at(9000), Node: "faults", Kind: journal.EvFault, Detail: "settle"},
	}
	story := Story(v, events, nil)
	require.Len(t, story, 3)
	assert.Equal(t, "1. 1.000000s fault: partition [broker-1] | rest for 3s", story[0])
	assert.Contains(t, story[1], "isr-expand orders/0: isr [0 2] -> [0 1 2]; logs: broker 0 end 40 hw 40 broker 1 end 31")
	assert.Equal(t, "3. 5.000000s isr-admitted-behind: broker 1 joined the ISR with log end 31, below leader 0's high watermark 40", story[2])
}

func ack(payload, offset int64, sent, acked int) []journal.Op {
	return []journal.Op{
		{Time: at(sent), Process: "p0", Type: journal.Invoke, F: journal.OpSend, TP: tp0, Payload: payload, Offset: -1},
		{Time: at(acked), Start: at(sent), Process: "p0", Type: journal.Ok, F: journal.OpSend, TP: tp0, Payload: payload, Offset: offset, Acks: config.AcksAll},
	}
}

func TestLinearizable(t *testing.T) {
	history := func(parts ...[]journal.Op) []journal.Op {
		var h []journal.Op
		for _, p := range parts {
			h = append(h, p...)
		}
		return h
	}
	read := func(ms int, offset, payload int64) []journal.Op {
		op := poll("c0", tp0, offset, payload, 100)
		op.Time = at(ms)
		return []journal.Op{op}
	}
	t.Run("clean, with a gap and concurrent appends", func(t *testing.T) {
		h := history(ack(1, 0, 0, 10), ack(2, 2, 5, 20), ack(3, 3, 6, 12), read(30, 3, 3))
		res := Linearizable(journal.HistoryOf(h...))
		assert.True(t, res.OK(), "%v", res.Violations)
		assert.True(t, porcupineLinearizable(h), "the oracle agrees")
	})
	t.Run("two acknowledged writes at one offset", func(t *testing.T) {
		h := history(ack(1, 0, 0, 10), ack(2, 0, 20, 30))
		res := Linearizable(journal.HistoryOf(h...))
		assert.Equal(t, []string{"two-writes-one-offset", "offset-against-real-time"}, kinds(res))
		assert.False(t, porcupineLinearizable(h))
	})
	t.Run("write acknowledged at an offset already read", func(t *testing.T) {
		h := history(ack(1, 5, 0, 10), read(15, 5, 1), ack(2, 4, 20, 30))
		res := Linearizable(journal.HistoryOf(h...))
		assert.Equal(t, []string{"offset-against-real-time"}, kinds(res))
		assert.Contains(t, res.Violations[0].Message, "acknowledged at offset 4")
		assert.False(t, porcupineLinearizable(h))
	})
	t.Run("offsets against real-time order", func(t *testing.T) {
		h := history(ack(1, 7, 0, 10), ack(2, 3, 20, 30))
		assert.Equal(t, []string{"offset-against-real-time"}, kinds(Linearizable(journal.HistoryOf(h...))))
		assert.False(t, porcupineLinearizable(h))
	})
	t.Run("a read disagrees with the acknowledged write", func(t *testing.T) {
		h := history(ack(1, 0, 0, 10), ack(2, 1, 0, 10), read(40, 0, 2))
		assert.Equal(t, []string{"read-disagrees-with-write"}, kinds(Linearizable(journal.HistoryOf(h...))))
	})
	t.Run("a read of a write not yet sent", func(t *testing.T) {
		h := history(read(5, 0, 1), ack(1, 0, 10, 20))
		assert.Equal(t, []string{"offset-against-real-time", "read-from-the-future"}, kinds(Linearizable(journal.HistoryOf(h...))))
	})
}

// The direct check and Porcupine's search agree on random small histories
// of one partition: writes at random offsets with random intervals, reads
// of what some write holds.
func TestLinearizableAgreesWithPorcupine(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	disagreements := 0
	verdicts := map[bool]int{}
	for range 3000 {
		var h []journal.Op
		n := 1 + r.IntN(6)
		for i := range n {
			sent := r.IntN(100)
			h = append(h, ack(int64(i+1), int64(r.IntN(8)), sent, sent+1+r.IntN(40))...)
		}
		for range r.IntN(3) {
			w := h[2*r.IntN(n)+1]
			h = append(h, poll("c0", tp0, w.Offset, w.Payload, 100))
			h[len(h)-1].Time = at(r.IntN(150) + 1)
		}
		slices.SortStableFunc(h, func(a, b journal.Op) int { return int(a.Time - b.Time) })
		direct := Linearizable(journal.HistoryOf(h...))
		// Porcupine's model knows offsets, not payloads: compare the
		// order verdicts.
		orderOK := !slices.ContainsFunc(direct.Violations, func(v Violation) bool {
			return v.Kind == "two-writes-one-offset" || v.Kind == "offset-against-real-time"
		})
		if orderOK != porcupineLinearizable(h) {
			disagreements++
			t.Logf("disagree (direct %v): %v", orderOK, h)
		}
		verdicts[orderOK]++
	}
	assert.Zero(t, disagreements)
	assert.Positive(t, verdicts[true])
	assert.Positive(t, verdicts[false])
}

func TestEventualDelivery(t *testing.T) {
	full := cluster.FinalLog{TP: tp0, Leader: 0, State: protocol.PartitionState{Replicas: []protocol.BrokerID{0, 1}, ISR: []protocol.BrokerID{0, 1}, Leader: 0}}
	history := append(ack(1, 0, 0, 10), started("c0", tp0), poll("c0", tp0, 0, 1, 5))
	t.Run("clean", func(t *testing.T) {
		assert.True(t, EventualDelivery(journal.HistoryOf(history...), []cluster.FinalLog{full}, at(50), at(60_000)).OK())
	})
	t.Run("no leader and under-replicated", func(t *testing.T) {
		offline := full
		offline.TP, offline.State.Leader = tp1, protocol.NoLeader
		under := full
		under.State.ISR = []protocol.BrokerID{0}
		res := EventualDelivery(journal.HistoryOf(), []cluster.FinalLog{offline, under}, at(50), at(60_000))
		assert.Equal(t, []string{"no-leader", "under-replicated"}, kinds(res))
	})
	t.Run("unseen", func(t *testing.T) {
		h := append(append([]journal.Op{}, history...), ack(2, 1, 20, 30)...)
		res := EventualDelivery(journal.HistoryOf(h...), []cluster.FinalLog{full}, at(50), at(60_000))
		require.Equal(t, []string{"unseen"}, kinds(res))
		assert.Equal(t, int64(2), res.Violations[0].Payload)
	})
	// The RF=1 wedge: the partition came back, but the producer's writes to
	// it stay pending to the end of the load and after.
	t.Run("writes that never resume after the heal", func(t *testing.T) {
		pending := func(payload int64, sent int) journal.Op {
			return journal.Op{Time: at(sent), Process: "p0", Type: journal.Invoke, F: journal.OpSend, TP: tp0, Payload: payload, Offset: -1}
		}
		h := append(append([]journal.Op{}, history...), pending(3, 30_000), pending(4, 40_000), pending(5, 49_000))
		res := EventualDelivery(journal.HistoryOf(h...), []cluster.FinalLog{full}, at(50_000), at(60_000))
		require.Equal(t, []string{"stuck-writes"}, kinds(res))
		assert.Equal(t, int64(3), res.Violations[0].Payload, "the first write that never got an answer")
		assert.Contains(t, res.Violations[0].Message, "3 writes to orders/0 were never answered")
		t.Run("a partition still without a leader explains itself", func(t *testing.T) {
			offline := full
			offline.State.Leader = protocol.NoLeader
			assert.Equal(t, []string{"no-leader"}, kinds(EventualDelivery(journal.HistoryOf(h...), []cluster.FinalLog{offline}, at(50_000), at(60_000))))
		})
		t.Run("too short a calm proves nothing", func(t *testing.T) {
			assert.True(t, EventualDelivery(journal.HistoryOf(h...), []cluster.FinalLog{full}, at(58_000), at(60_000)).OK())
		})
		t.Run("answered writes are not stuck", func(t *testing.T) {
			answered := append(append([]journal.Op{}, history...), ack(3, 1, 30_000, 31_000)...)
			answered = append(answered, poll("c0", tp0, 1, 3, 2))
			assert.True(t, EventualDelivery(journal.HistoryOf(answered...), []cluster.FinalLog{full}, at(50_000), at(60_000)).OK())
		})
	})
}

func TestStoryNamesTheDecisiveEvents(t *testing.T) {
	op := ack(7, 3, 4900, 5000)[1]
	v := Violation{Checker: AckedDurabilityName, Kind: "lost-write", TP: tp0, Offset: 3, Payload: 7, Ops: []journal.Op{op}}
	events := []journal.Event{
		{Time: at(10), Node: "broker-0", Kind: journal.EvBecameLeader, TP: tp0, Broker: 0, Detail: "too early to matter"},
		{Time: at(1500), Node: "controller", Kind: journal.EvISRShrink, TP: tp0, Broker: 0, Detail: "isr [0 1] -> [0]"},
		{Time: at(5100), Node: "broker-0", Kind: journal.EvCrashed, Broker: 0},
		{Time: at(5200), Node: "broker-9", Kind: journal.EvCrashed, Broker: 9},
		{Time: at(6000), Node: "controller", Kind: journal.EvUncleanElected, TP: tp0, Broker: 1, Epoch: 1, Detail: "leader 0 -> 1"},
		{Time: at(7000), Node: "broker-0", Kind: journal.EvTruncated, TP: tp0, Broker: 0, Offset: 2, Detail: "truncated its log from 9 to 2"},
		{Time: at(7500), Node: "broker-0", Kind: journal.EvRestarted, Broker: 0},
	}
	final := []cluster.FinalLog{finalOf(tp0, 1, []protocol.BrokerID{1}, []int64{2, 2}, log(1, 2), log(1, 2))}
	story := Story(v, events, final)
	want := []string{
		"1. 1.500000s controller isr-shrink orders/0: isr [0 1] -> [0]",
		"2. 5.000000s p0's write of payload 7 acknowledged by broker 0 at orders/0 offset 3 (acks=all)",
		"3. 5.100000s broker-0 crashed",
		"4. 6.000000s controller elected broker 1 leader of orders/0 UNCLEAN, from outside the ISR: leader 0 -> 1",
		"5. 7.000000s broker-0 truncated its log from 9 to 2 of orders/0",
	}
	assert.Equal(t, want, story)
}

func TestProtocolInvariantsNamesEachBrokenRule(t *testing.T) {
	res := ProtocolInvariants([]monitor.InvariantViolation{
		{Time: at(10), Kind: monitor.InvISRAdmittedBehind, TP: tp0, Broker: 2, Offset: 31, Detail: "broker 2 joined the ISR with log end 31, below leader 0's high watermark 1000"},
	})
	require.Equal(t, []string{monitor.InvISRAdmittedBehind}, kinds(res))
	assert.Equal(t, int64(31), res.Violations[0].Offset)
	assert.Contains(t, res.Violations[0].Message, "below leader 0's high watermark 1000")
	assert.True(t, ProtocolInvariants(nil).OK())
}

// Events at one instant keep the journal's order, cause before effect,
// even when a long story is cut to its most decisive lines (which ranks a
// truncation above the divergence that ordered it).
func TestStoryTellsSameInstantEventsCauseFirst(t *testing.T) {
	op := ack(7, 3, 4900, 5000)[1]
	v := Violation{Checker: AckedDurabilityName, Kind: "lost-write", TP: tp0, Offset: 3, Payload: 7, Ops: []journal.Op{op}}
	var events []journal.Event
	for i := range 10 {
		events = append(events, journal.Event{Time: at(4000 + i), Node: "controller", Kind: journal.EvISRShrink, TP: tp0, Broker: 0, Detail: "isr"})
	}
	events = append(events,
		journal.Event{Time: at(7000), Node: "broker-0", Kind: journal.EvDiverged, TP: tp0, Broker: 0, Detail: "leader 1 says epoch 0 ends at 2"},
		journal.Event{Time: at(7000), Node: "broker-0", Kind: journal.EvTruncated, TP: tp0, Broker: 0, Offset: 2, Detail: "truncated its log from 9 to 2"})
	story := Story(v, events, []cluster.FinalLog{finalOf(tp0, 1, []protocol.BrokerID{0, 1}, []int64{2, 2}, log(1, 2), log(1, 2))})
	told := slices.IndexFunc(story, func(s string) bool { return strings.Contains(s, "told to truncate") })
	truncated := slices.IndexFunc(story, func(s string) bool { return strings.Contains(s, "truncated its log") })
	require.True(t, told >= 0 && truncated >= 0, "%v", story)
	assert.Less(t, told, truncated, "%v", story)
}
