package check

import (
	"fmt"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/protocol"
)

// LeaderUniquenessDefinition is the promise, in one line.
const LeaderUniquenessDefinition = "leader epochs only grow, and no two brokers lead (or complete acks=all writes in) one partition at one epoch"

type epochKey struct {
	tp    protocol.TopicPartition
	epoch int32
}

// LeaderUniqueness checks leadership: the controller's epochs for a
// partition only grow; a broker's own epochs never go back; no epoch has
// two leaders; no two brokers complete acks=all produces in one partition
// at one epoch. Intervals in which two brokers both believed they led a
// partition (a zombie leader not yet told) are reported as notes: they
// break nothing by themselves, since the zombie cannot commit.
func LeaderUniqueness(events []journal.Event, acks []journal.AckSample, end clock.Time) Result {
	res := Result{Checker: LeaderUniquenessName, Definition: LeaderUniquenessDefinition}
	fail := func(kind string, tp protocol.TopicPartition, msg string) {
		res.Violations = append(res.Violations, Violation{Checker: LeaderUniquenessName, Kind: kind, TP: tp, Offset: -1, Payload: -1, Message: msg})
	}
	lastEpoch := map[protocol.TopicPartition]int32{}
	brokerEpoch := map[epochKey]protocol.BrokerID{} // (tp, epoch) -> broker that became leader
	ownEpoch := map[string]int32{}                  // broker+tp -> its last leader epoch
	for _, e := range events {
		switch e.Kind {
		case journal.EvElected, journal.EvELRElected, journal.EvUncleanElected, journal.EvPreferredElected, journal.EvShutdownElected, journal.EvOffline:
			if last, ok := lastEpoch[e.TP]; ok && e.Epoch <= last {
				fail("epoch-regressed", e.TP, fmt.Sprintf("the controller set epoch %d at %v after epoch %d", e.Epoch, e.Time, last))
			}
			lastEpoch[e.TP] = e.Epoch
		case journal.EvBecameLeader:
			key := epochKey{e.TP, e.Epoch}
			if other, ok := brokerEpoch[key]; ok && other != e.Broker {
				fail("two-leaders", e.TP, fmt.Sprintf("brokers %d and %d both became leader at epoch %d (at %v)", other, e.Broker, e.Epoch, e.Time))
			}
			brokerEpoch[key] = e.Broker
			own := fmt.Sprint(e.Broker, e.TP)
			if last, ok := ownEpoch[own]; ok && e.Epoch < last {
				fail("epoch-regressed", e.TP, fmt.Sprintf("broker %d led at epoch %d at %v after leading at epoch %d", e.Broker, e.Epoch, e.Time, last))
			}
			ownEpoch[own] = e.Epoch
		}
	}
	committer := map[epochKey]journal.AckSample{}
	for _, a := range acks {
		key := epochKey{a.TP, a.Epoch}
		if first, ok := committer[key]; ok && first.Broker != a.Broker {
			fail("split-brain-commit", a.TP, fmt.Sprintf("brokers %d (at %v, offset %d) and %d (at %v, offset %d) both completed acks=all writes at epoch %d",
				first.Broker, first.Time, first.Offset, a.Broker, a.Time, a.Offset, a.Epoch))
			continue
		}
		if _, ok := committer[key]; !ok {
			committer[key] = a
		}
	}
	res.Notes = zombieIntervals(events, end)
	return res
}

// belief is one broker believing it leads a partition.
type belief struct {
	broker protocol.BrokerID
	epoch  int32
	from   clock.Time
	to     clock.Time // clock.Never while open
}

// zombieIntervals lists the times two brokers both believed they led the
// same partition.
func zombieIntervals(events []journal.Event, end clock.Time) []string {
	var tps []protocol.TopicPartition
	open := map[protocol.TopicPartition][]*belief{}
	var all []*belief
	var order []protocol.TopicPartition // partition of each belief in all
	closeAll := func(broker protocol.BrokerID, tp *protocol.TopicPartition, at clock.Time) {
		for _, t := range tps {
			if tp != nil && t != *tp {
				continue
			}
			for _, b := range open[t] {
				if b.broker == broker && b.to == clock.Never {
					b.to = at
				}
			}
		}
	}
	for _, e := range events {
		switch e.Kind {
		case journal.EvBecameLeader:
			if _, ok := open[e.TP]; !ok {
				tps = append(tps, e.TP)
			}
			tp := e.TP
			closeAll(e.Broker, &tp, e.Time)
			b := &belief{broker: e.Broker, epoch: e.Epoch, from: e.Time, to: clock.Never}
			open[e.TP] = append(open[e.TP], b)
			all = append(all, b)
			order = append(order, e.TP)
		case journal.EvBecameFollower, journal.EvReplicaDeleted:
			tp := e.TP
			closeAll(e.Broker, &tp, e.Time)
		case journal.EvCrashed, journal.EvPowerLoss, journal.EvStopped:
			if e.Broker != protocol.NoLeader {
				closeAll(e.Broker, nil, e.Time)
			}
		}
	}
	var notes []string
	for i, a := range all {
		for j := i + 1; j < len(all); j++ {
			b := all[j]
			if order[i] != order[j] || a.broker == b.broker {
				continue
			}
			from, to := max(a.from, b.from), min(a.to, b.to, end)
			if from < to {
				notes = append(notes, fmt.Sprintf("%v: brokers %d (epoch %d) and %d (epoch %d) both believed they led from %v to %v",
					order[i], a.broker, a.epoch, b.broker, b.epoch, from, to))
			}
		}
	}
	return notes
}
