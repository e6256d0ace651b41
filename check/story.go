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
	"github.com/tideline-sim/tideline/cluster/protocol"
)

// storyLength bounds a story: the operation, then the decisive events.
const storyLength = 10

// storyLookback is how far before the violating operation a story looks
// for causes (an ISR shrink some seconds before an unclean election).
const storyLookback = 30 * time.Second

// priority ranks event kinds by how much they explain a loss; lower first.
var priority = map[cluster.EventKind]int{
	cluster.EvTruncated: 0, cluster.EvUncleanElected: 0, cluster.EvPowerLoss: 0,
	cluster.EvElected: 1, cluster.EvELRElected: 1, cluster.EvOffline: 1, cluster.EvCrashed: 1, cluster.EvPreferredElected: 1,
	cluster.EvDiverged: 1,
	cluster.EvFenced:   2, cluster.EvISRShrink: 2, cluster.EvPaused: 2, cluster.EvISRExpand: 2, cluster.EvFault: 2,
	cluster.EvBecameLeader: 3, cluster.EvRestarted: 3, cluster.EvResumed: 3,
	cluster.EvUnfenced: 4,
	// The controller quorum: who the controller was, and when it changed.
	cluster.EvControllerActive: 2, cluster.EvControllerResigned: 2, cluster.EvControllerLostLeader: 3,
}

// Story builds the causal timeline of a violation from the journal: the
// operation that shows it, then the events that touched its partition and
// the brokers holding it — faults, fencing, elections (clean or unclean)
// with their epochs, ISR changes and the truncation that removed the
// record — at most storyLength lines, the most decisive kept, in time order.
func Story(v Violation, events []cluster.Event, final []cluster.FinalLog) []string {
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
		if gone && e.Kind != cluster.EvElected && e.Kind != cluster.EvELRElected && e.Kind != cluster.EvUncleanElected {
			continue
		}
		picked = append(picked, line{e.Time, i, describeEvent(e), rank})
		if gone {
			break
		}
		if e.Kind == cluster.EvTruncated && v.Offset >= 0 && e.Offset <= v.Offset {
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

func relevant(e cluster.Event, v Violation, replicas []protocol.BrokerID) bool {
	switch e.Kind {
	case cluster.EvCrashed, cluster.EvPowerLoss, cluster.EvRestarted, cluster.EvPaused, cluster.EvResumed:
		return strings.HasPrefix(e.Node, "controller") || slices.Contains(replicas, e.Broker)
	case cluster.EvControllerActive, cluster.EvControllerResigned, cluster.EvControllerLostLeader:
		// Every partition's metadata goes through the controller; the
		// formed quorum's first leader is no change.
		return e.Epoch > 1
	case cluster.EvFenced, cluster.EvUnfenced:
		return slices.Contains(replicas, e.Broker)
	case cluster.EvTruncated:
		return e.TP == v.TP && (v.Offset < 0 || e.Offset <= v.Offset)
	case cluster.EvFault:
		return true
	}
	return e.TP == v.TP
}

func describeOp(op cluster.Op) string {
	switch {
	case op.F == cluster.OpSend && op.Type == cluster.Invoke:
		return fmt.Sprintf("%v %s sent payload %s to %v", op.Time, op.Process, cluster.PayloadText(op.Payload), op.TP)
	case op.F == cluster.OpSend && op.Type == cluster.Ok:
		acks := fmt.Sprint(op.Acks)
		if op.Acks == cluster.AcksAll {
			acks = "all"
		}
		return fmt.Sprintf("%v %s's write of payload %s acknowledged by broker %d at %v offset %d (acks=%s)", op.Time, op.Process, cluster.PayloadText(op.Payload), op.Broker, op.TP, op.Offset, acks)
	case op.F == cluster.OpSend:
		return fmt.Sprintf("%v %s's write of payload %s ended %v (%v)", op.Time, op.Process, cluster.PayloadText(op.Payload), op.Type, op.Err)
	case op.F == cluster.OpPoll:
		return fmt.Sprintf("%v %s read payload %s at %v offset %d from broker %d", op.Time, op.Process, cluster.PayloadText(op.Payload), op.TP, op.Offset, op.Broker)
	}
	return op.String()
}

func describeEvent(e cluster.Event) string {
	switch e.Kind {
	case cluster.EvCrashed:
		return fmt.Sprintf("%v %s crashed", e.Time, e.Node)
	case cluster.EvPowerLoss:
		return fmt.Sprintf("%v %s lost power (unsynced data gone)", e.Time, e.Node)
	case cluster.EvRestarted:
		return fmt.Sprintf("%v %s restarted", e.Time, e.Node)
	case cluster.EvPaused:
		return fmt.Sprintf("%v %s paused", e.Time, e.Node)
	case cluster.EvResumed:
		return fmt.Sprintf("%v %s resumed", e.Time, e.Node)
	case cluster.EvELRElected:
		return fmt.Sprintf("%v controller elected broker %d leader of %v from the eligible leader replicas (clean, KIP-966): %s", e.Time, e.Broker, e.TP, e.Detail)
	case cluster.EvElected:
		return fmt.Sprintf("%v controller elected broker %d leader of %v (clean): %s", e.Time, e.Broker, e.TP, e.Detail)
	case cluster.EvUncleanElected:
		return fmt.Sprintf("%v controller elected broker %d leader of %v UNCLEAN, from outside the ISR: %s", e.Time, e.Broker, e.TP, e.Detail)
	case cluster.EvOffline:
		return fmt.Sprintf("%v controller found no live ISR member for %v: offline (%s)", e.Time, e.TP, e.Detail)
	case cluster.EvFenced, cluster.EvUnfenced:
		return fmt.Sprintf("%v controller: %s", e.Time, e.Detail)
	case cluster.EvTruncated:
		return fmt.Sprintf("%v %s %s", e.Time, e.Node, e.Detail+" of "+e.TP.String())
	case cluster.EvFault:
		return fmt.Sprintf("%v fault: %s", e.Time, e.Detail)
	case cluster.EvDiverged:
		return fmt.Sprintf("%v %s told to truncate %v: %s", e.Time, e.Node, e.TP, e.Detail)
	case cluster.EvISRExpand, cluster.EvISRShrink:
		return fmt.Sprintf("%v controller %s %v: %s", e.Time, e.Kind, e.TP, e.Detail)
	case cluster.EvControllerActive, cluster.EvControllerResigned, cluster.EvControllerLostLeader:
		return fmt.Sprintf("%v %s", e.Time, e.Detail)
	}
	return fmt.Sprintf("%v %s %s %s: %s", e.Time, e.Node, e.Kind, e.TP, e.Detail)
}
