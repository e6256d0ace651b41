// Package report turns a run's result into what people read: the terminal
// summary and summary.json. It reads results; it decides nothing.
package report

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/tideline-sim/tideline/check"
	"github.com/tideline-sim/tideline/cluster"
	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/runner"
)

// maxViolationsShown bounds the violations printed per checker; the rest
// are counted, and all are in summary.json.
const maxViolationsShown = 3

// Text writes the terminal summary of a run. Its bytes depend only on the
// scenario and the seed.
func Text(w io.Writer, r *runner.Result, command string) error {
	sc := r.Scenario
	var b strings.Builder
	fmt.Fprintf(&b, "tideline: %s (%s), seed %d\n", sc.Name, sc.Source, r.Seed)
	for _, line := range wrap(sc.Description, 76) {
		fmt.Fprintf(&b, "  %s\n", line)
	}
	fmt.Fprintf(&b, "cluster: %s\n", describeCluster(sc.Cluster))
	fmt.Fprintf(&b, "run: %v simulated, %d events, trace %016x\n\n", r.Duration, r.Events, r.TraceHash)

	s := r.Sends
	fmt.Fprintf(&b, "produce: %d sent, %d ok, %d failed, %d unknown\n", s.Invoked, s.Ok, s.Fail, s.Info+s.Pending)
	fmt.Fprintf(&b, "availability: %s\n", availabilityText(r))
	fmt.Fprintf(&b, "lost: %d acknowledged writes%s\n", r.Lost, unavailableText(r))
	if windows := r.Detail.Windows; len(windows) > 0 {
		fmt.Fprintf(&b, "unavailable: %s\n", windowText(windows))
		if startsAtZero(windows) {
			for _, line := range wrap("("+startupNote+")", 74) {
				fmt.Fprintf(&b, "  %s\n", line)
			}
		}
	}
	fmt.Fprintf(&b, "cluster: %d leader elections%s, %d ISR shrinks, %d ISR expands%s\n", r.Leaders, electionsText(r), r.ISRShrinks, r.ISRExpands, reassignmentsText(r))
	if stuck := stuckReassignments(r); stuck != "" {
		fmt.Fprintf(&b, "reassignments still in progress at the end (stuck): %s\n", stuck)
	}

	for _, t := range Tables(r) {
		fmt.Fprintf(&b, "\n%s\n", t.Title)
		if err := t.Render(&b); err != nil {
			return err
		}
		if t.Title == "checkers" {
			for _, ch := range r.Checks {
				fmt.Fprintf(&b, "  %s: %s\n", ch.Checker, ch.Definition)
			}
			for _, ch := range r.Checks {
				writeViolations(&b, ch)
			}
		}
	}
	verdict := "PASS: every expectation holds"
	if !r.OK() {
		verdict = "FAIL: an expectation does not hold"
	}
	fmt.Fprintf(&b, "\n%s\nreproduce: %s\n", verdict, command)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeViolations prints a checker's first violations, the first with its
// story.
func writeViolations(b *strings.Builder, ch check.Result) {
	if ch.OK() {
		if len(ch.Notes) > 0 {
			fmt.Fprintf(b, "  %s: %d notes (no promise broken), e.g.\n    %s\n", ch.Checker, len(ch.Notes), ch.Notes[0])
		}
		return
	}
	fmt.Fprintf(b, "  %s: %d violations\n", ch.Checker, len(ch.Violations))
	for i, v := range ch.Violations {
		if i == maxViolationsShown {
			fmt.Fprintf(b, "    ... and %d more\n", len(ch.Violations)-maxViolationsShown)
			break
		}
		fmt.Fprintf(b, "    %s: %s\n", v.Kind, v.Message)
		if i == 0 {
			for _, line := range v.Story {
				fmt.Fprintf(b, "      %s\n", line)
			}
		}
	}
}

// startupNote explains an outage from 0 s: Kafka's own start-up, not a
// fault.
const startupNote = "from 0s: the cluster starting. Brokers register, each leader learns its partitions from the metadata log, " +
	"and a follower whose first fetch came before its leader knew the partition got an error and waited replica.fetch.backoff.ms " +
	"(1 s by default) before fetching again, as Kafka's replica fetcher does; acks=all writes wait for it"

func startsAtZero(windows []check.Window) bool {
	return slices.ContainsFunc(windows, func(w check.Window) bool { return w.From == 0 })
}

func windowText(windows []check.Window) string {
	var parts []string
	for i, w := range windows {
		if i == 4 {
			parts = append(parts, fmt.Sprintf("and %d more", len(windows)-4))
			break
		}
		parts = append(parts, fmt.Sprintf("%v %v-%v", w.TP, w.From, w.To))
	}
	return strings.Join(parts, ", ")
}

func describeCluster(spec cluster.Spec) string {
	brokers := fmt.Sprintf("%d brokers", spec.Brokers)
	if racks := spec.RackNames(); len(racks) > 0 {
		brokers += fmt.Sprintf(" in racks %s", strings.Join(racks, ", "))
	}
	if how := spec.Placement(); how != config.PlacementFixed {
		brokers += fmt.Sprintf(" (%s placement)", how)
	}
	parts := []string{brokers}
	for _, t := range spec.Topics {
		minISR := spec.Broker.MinInsyncReplicas
		if t.MinInsyncReplicas != nil {
			minISR = *t.MinInsyncReplicas
		}
		parts = append(parts, fmt.Sprintf("%s: %d partitions, RF %d, min.insync.replicas %d", t.Name, t.Partitions, t.ReplicationFactor, minISR))
	}
	for _, p := range spec.Producers {
		acks := fmt.Sprint(p.Acks)
		if p.Acks == config.AcksAll {
			acks = "all"
		}
		parts = append(parts, fmt.Sprintf("producer %g/s acks=%s idempotence=%t", p.Rate, acks, p.Idempotence))
	}
	standalone := 0
	var groups []string
	members := map[string]int{}
	for _, c := range spec.Consumers {
		if c.GroupID == "" {
			standalone++
			continue
		}
		if members[c.GroupID] == 0 {
			groups = append(groups, c.GroupID)
		}
		members[c.GroupID]++
	}
	if standalone > 0 {
		parts = append(parts, fmt.Sprintf("%d consumer(s)", standalone))
	}
	for _, g := range groups {
		c := spec.Consumers[slices.IndexFunc(spec.Consumers, func(c config.ConsumerConfig) bool { return c.GroupID == g })]
		how := string(c.Commit)
		if c.Commit == config.CommitAuto {
			how = fmt.Sprintf("auto every %v", c.AutoCommitInterval)
		}
		parts = append(parts, fmt.Sprintf("group %s: %d members, commit %s, %s", g, members[g], how, strings.Join(c.Assignors, ",")))
	}
	return strings.Join(parts, "; ")
}

// wrap breaks text into lines of at most width characters.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		if line != "" && len(line)+1+len(word) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

// unavailableText names what is not lost but cannot be read at the end, if
// anything.
func unavailableText(r *runner.Result) string {
	var s string
	if r.Unavailable > 0 {
		s += fmt.Sprintf("; %d more unavailable (only on a down replica of a leaderless partition)", r.Unavailable)
	}
	if r.OfflinePartitions > 0 {
		s += fmt.Sprintf("; %d partitions offline at the end", r.OfflinePartitions)
	}
	return s
}

// availabilityText is the headline: availability as users feel it, the
// longest outage, and the old ratio as "eventually acknowledged".
func availabilityText(r *runner.Result) string {
	a := r.Detail
	text := fmt.Sprintf("%.4f (share of time a write was acknowledged within %v)", r.Availability, a.Deadline.Round(time.Millisecond))
	if tp, o := a.Longest(); o.Length() > 0 || o.Ongoing {
		text += fmt.Sprintf("; longest outage %v %v (%v-%v)", tp, o.Length().Round(time.Millisecond), seconds(o.From), seconds(o.To))
		if o.Ongoing {
			text += ", ongoing when the load ended"
		}
	}
	return text + fmt.Sprintf("; eventually acknowledged %.4f", a.Share)
}

// preferredText says how many of the leader elections were preferred
// ones (leadership coming home), when there were any.
// stuckReassignments names the partitions whose reassignment had not
// completed when the run ended, with the target replicas still outside
// the ISR.
func stuckReassignments(r *runner.Result) string {
	var parts []string
	for _, f := range r.Final {
		st := f.State
		if len(st.Adding) == 0 && len(st.Removing) == 0 {
			continue
		}
		var waiting []protocol.BrokerID
		for _, b := range st.Target() {
			if !st.InISR(b) {
				waiting = append(waiting, b)
			}
		}
		parts = append(parts, fmt.Sprintf("%v to %v (waiting for %v to join the ISR)", st.TP, st.Target(), waiting))
	}
	return strings.Join(parts, "; ")
}

// reassignmentsText counts the reassignments completed, when any were.
func reassignmentsText(r *runner.Result) string {
	if r.Reassignments == 0 {
		return ""
	}
	return fmt.Sprintf(", %d reassignments completed", r.Reassignments)
}

// electionsText says how many of the elections were preferred ones and how
// many leaderships a controlled shutdown handed on, when any were.
func electionsText(r *runner.Result) string {
	var parts []string
	if r.Preferred > 0 {
		parts = append(parts, fmt.Sprintf("%d preferred", r.Preferred))
	}
	if r.ShutdownMoves > 0 {
		parts = append(parts, fmt.Sprintf("%d moved by controlled shutdown", r.ShutdownMoves))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
