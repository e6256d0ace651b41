package check

import (
	"cmp"
	"fmt"
	"slices"

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
	index  int        // its place among all beliefs, in the order they began
}

// zombieIntervals lists the times two brokers both believed they led the
// same partition, in the order the earlier belief began, then the later.
func zombieIntervals(events []journal.Event, end clock.Time) []string {
	var tps []protocol.TopicPartition                  // in the order first led
	beliefs := map[protocol.TopicPartition][]*belief{} // looked up, never iterated
	var opened []*belief                               // every belief still open, for a broker that stops
	n := 0
	closeOf := func(list []*belief, broker protocol.BrokerID, at clock.Time) {
		for _, b := range list {
			if b.broker == broker && b.to == clock.Never {
				b.to = at
			}
		}
	}
	for _, e := range events {
		switch e.Kind {
		case journal.EvBecameLeader:
			if _, ok := beliefs[e.TP]; !ok {
				tps = append(tps, e.TP)
			}
			closeOf(beliefs[e.TP], e.Broker, e.Time)
			b := &belief{broker: e.Broker, epoch: e.Epoch, from: e.Time, to: clock.Never, index: n}
			n++
			beliefs[e.TP] = append(beliefs[e.TP], b)
			opened = append(opened, b)
		case journal.EvBecameFollower, journal.EvReplicaDeleted:
			closeOf(beliefs[e.TP], e.Broker, e.Time)
		case journal.EvCrashed, journal.EvPowerLoss, journal.EvStopped:
			if e.Broker != protocol.NoLeader {
				closeOf(opened, e.Broker, e.Time)
			}
		}
		if len(opened) > 2*len(tps)+64 {
			opened = slices.DeleteFunc(opened, func(b *belief) bool { return b.to != clock.Never })
		}
	}
	type overlap struct {
		i, j int
		note string
	}
	var found []overlap
	for _, tp := range tps {
		list := beliefs[tp]
		for i, a := range list {
			for _, b := range list[i+1:] {
				if a.broker == b.broker {
					continue
				}
				from, to := max(a.from, b.from), min(a.to, b.to, end)
				if from < to {
					found = append(found, overlap{a.index, b.index, fmt.Sprintf("%v: brokers %d (epoch %d) and %d (epoch %d) both believed they led from %v to %v",
						tp, a.broker, a.epoch, b.broker, b.epoch, from, to)})
				}
			}
		}
	}
	slices.SortFunc(found, func(x, y overlap) int { return cmp.Or(cmp.Compare(x.i, y.i), cmp.Compare(x.j, y.j)) })
	var notes []string
	for _, o := range found {
		notes = append(notes, o.note)
	}
	return notes
}
