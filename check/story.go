package check

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster"
	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/protocol"
)

// storyLength bounds a story: the operation, then the decisive events.
const storyLength = 10

// storyLookback is how far before the violating operation a story looks
// for causes (an ISR shrink some seconds before an unclean election).
const storyLookback = 30 * time.Second

// priority ranks event kinds by how much they explain a loss; lower first.
var priority = map[journal.EventKind]int{
	journal.EvTruncated: 0, journal.EvUncleanElected: 0, journal.EvPowerLoss: 0,
	journal.EvElected: 1, journal.EvELRElected: 1, journal.EvOffline: 1, journal.EvCrashed: 1, journal.EvPreferredElected: 1, journal.EvShutdownElected: 1,
	journal.EvControlledShutdown: 2, journal.EvStopped: 2, journal.EvCleanStart: 3,
	journal.EvDiverged: 1,
	journal.EvFenced:   2, journal.EvISRShrink: 2, journal.EvPaused: 2, journal.EvISRExpand: 2, journal.EvFault: 2,
	journal.EvBecameLeader: 3, journal.EvRestarted: 3, journal.EvResumed: 3,
	journal.EvUnfenced: 4,
	// The controller quorum: who the controller was, and when it changed.
	journal.EvControllerActive: 2, journal.EvControllerResigned: 2, journal.EvControllerLostLeader: 3,
}

// Story builds the causal timeline of a violation from the journal: the
// operation that shows it, then the events that touched its partition and
// the brokers holding it — faults, fencing, elections (clean or unclean)
// with their epochs, ISR changes and the truncation that removed the
// record — at most storyLength lines, the most decisive kept, in time order.
func Story(v Violation, events []journal.Event, final []cluster.FinalLog) []string {
	var replicas []protocol.BrokerID
	for _, f := range final {
		if f.TP == v.TP {
			replicas = f.State.Replicas
		}
	}
	// Causes that build up slowly (an ISR shrinking, a broker fenced or
	// paused) are looked for well before the operation; the rest from
	// shortly before it.
	from, recent, until := clock.Time(0), clock.Time(0), clock.Time(math.MaxInt64)
	type line struct {
		at   clock.Time
		seq  int // the journal's order: a cause before its effect at one instant
		text string
		rank int
	}
	var picked []line
	switch {
	case len(v.Ops) > 0:
		op := v.Ops[0]
		picked = append(picked, line{op.Time, -1, describeOp(op), -1})
		from, recent = op.Time.Add(-storyLookback), op.Time.Add(-time.Second)
	case v.At > 0:
		// A rule broken at an instant: the story is what led up to it.
		picked = append(picked, line{v.At, len(events), fmt.Sprintf("%v %s: %s", v.At, v.Kind, strings.TrimPrefix(v.Message, v.At.String()+" ")), -1})
		from, recent, until = v.At.Add(-storyLookback), v.At.Add(-time.Second), v.At
	}
	gone := false // the record was truncated away; only an election after it still matters
	for i, e := range events {
		rank, known := priority[e.Kind]
		if !known || e.Time < from || e.Time > until || (rank != 2 && e.Time < recent) || !relevant(e, v, replicas) {
			continue
		}
		if gone && !e.Kind.Election() {
			continue
		}
		picked = append(picked, line{e.Time, i, describeEvent(e), rank})
		if gone {
			break
		}
		if e.Kind == journal.EvTruncated && v.Offset >= 0 && e.Offset <= v.Offset {
			gone = true
		}
	}
	if len(picked) > storyLength {
		slices.SortStableFunc(picked, func(a, b line) int { return a.rank - b.rank })
		picked = picked[:storyLength]
	}
	slices.SortFunc(picked, func(a, b line) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.seq, b.seq)) })
	lines := make([]string, len(picked))
	for i, l := range picked {
		lines[i] = fmt.Sprintf("%d. %s", i+1, l.text)
	}
	return lines
}

func relevant(e journal.Event, v Violation, replicas []protocol.BrokerID) bool {
	switch e.Kind {
	case journal.EvCrashed, journal.EvPowerLoss, journal.EvStopped, journal.EvRestarted, journal.EvPaused, journal.EvResumed:
		return strings.HasPrefix(e.Node, "controller") || slices.Contains(replicas, e.Broker)
	case journal.EvControllerActive, journal.EvControllerResigned, journal.EvControllerLostLeader:
		// Every partition's metadata goes through the controller; the
		// formed quorum's first leader is no change.
		return e.Epoch > 1
	case journal.EvFenced, journal.EvUnfenced, journal.EvControlledShutdown, journal.EvCleanStart:
		return slices.Contains(replicas, e.Broker)
	case journal.EvTruncated:
		return e.TP == v.TP && (v.Offset < 0 || e.Offset <= v.Offset)
	case journal.EvFault:
		return true
	}
	return e.TP == v.TP
}

func describeOp(op journal.Op) string {
	switch {
	case op.F == journal.OpSend && op.Type == journal.Invoke:
		return fmt.Sprintf("%v %s sent payload %s to %v", op.Time, op.Process, journal.PayloadText(op.Payload), op.TP)
	case op.F == journal.OpSend && op.Type == journal.Ok:
		acks := fmt.Sprint(op.Acks)
		if op.Acks == config.AcksAll {
			acks = "all"
		}
		return fmt.Sprintf("%v %s's write of payload %s acknowledged by broker %d at %v offset %d (acks=%s)", op.Time, op.Process, journal.PayloadText(op.Payload), op.Broker, op.TP, op.Offset, acks)
	case op.F == journal.OpSend:
		return fmt.Sprintf("%v %s's write of payload %s ended %v (%v)", op.Time, op.Process, journal.PayloadText(op.Payload), op.Type, op.Err)
	case op.F == journal.OpPoll:
		return fmt.Sprintf("%v %s read payload %s at %v offset %d from broker %d", op.Time, op.Process, journal.PayloadText(op.Payload), op.TP, op.Offset, op.Broker)
	}
	return op.String()
}

func describeEvent(e journal.Event) string {
	switch e.Kind {
	case journal.EvCrashed:
		return fmt.Sprintf("%v %s crashed", e.Time, e.Node)
	case journal.EvPowerLoss:
		return fmt.Sprintf("%v %s lost power (unsynced data gone)", e.Time, e.Node)
	case journal.EvRestarted:
		return fmt.Sprintf("%v %s restarted", e.Time, e.Node)
	case journal.EvStopped:
		return fmt.Sprintf("%v %s stopped (clean shutdown: logs flushed, marker written)", e.Time, e.Node)
	case journal.EvControlledShutdown:
		return fmt.Sprintf("%v controller began broker %d's controlled shutdown: %s", e.Time, e.Broker, e.Detail)
	case journal.EvShutdownElected:
		return fmt.Sprintf("%v controller moved %v's leadership to broker %d (controlled shutdown): %s", e.Time, e.TP, e.Broker, e.Detail)
	case journal.EvCleanStart:
		return fmt.Sprintf("%v %s started clean (its clean-shutdown marker found: no log recovery)", e.Time, e.Node)
	case journal.EvPaused:
		return fmt.Sprintf("%v %s paused", e.Time, e.Node)
	case journal.EvResumed:
		return fmt.Sprintf("%v %s resumed", e.Time, e.Node)
	case journal.EvELRElected:
		return fmt.Sprintf("%v controller elected broker %d leader of %v from the eligible leader replicas (clean, KIP-966): %s", e.Time, e.Broker, e.TP, e.Detail)
	case journal.EvElected:
		return fmt.Sprintf("%v controller elected broker %d leader of %v (clean): %s", e.Time, e.Broker, e.TP, e.Detail)
	case journal.EvUncleanElected:
		return fmt.Sprintf("%v controller elected broker %d leader of %v UNCLEAN, from outside the ISR: %s", e.Time, e.Broker, e.TP, e.Detail)
	case journal.EvOffline:
		return fmt.Sprintf("%v controller found no live ISR member for %v: offline (%s)", e.Time, e.TP, e.Detail)
	case journal.EvFenced, journal.EvUnfenced:
		return fmt.Sprintf("%v controller: %s", e.Time, e.Detail)
	case journal.EvTruncated:
		return fmt.Sprintf("%v %s %s", e.Time, e.Node, e.Detail+" of "+e.TP.String())
	case journal.EvFault:
		return fmt.Sprintf("%v fault: %s", e.Time, e.Detail)
	case journal.EvDiverged:
		return fmt.Sprintf("%v %s told to truncate %v: %s", e.Time, e.Node, e.TP, e.Detail)
	case journal.EvISRExpand, journal.EvISRShrink:
		return fmt.Sprintf("%v controller %s %v: %s", e.Time, e.Kind, e.TP, e.Detail)
	case journal.EvControllerActive, journal.EvControllerResigned, journal.EvControllerLostLeader:
		return fmt.Sprintf("%v %s", e.Time, e.Detail)
	}
	return fmt.Sprintf("%v %s %s %s: %s", e.Time, e.Node, e.Kind, e.TP, e.Detail)
}
