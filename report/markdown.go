package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/tideline-sim/tideline/runner"
)

// Markdown writes report.md: the plots, the tables, the violations with
// their stories, the scenario and the command that reproduces the run. files
// are the other artefacts written beside it, linked at the end.
func Markdown(w io.Writer, r *runner.Result, command string, files []string) error {
	var b strings.Builder
	sc := r.Scenario
	verdict := "PASS — every expectation holds"
	if !r.OK() {
		verdict = "FAIL — an expectation does not hold"
	}
	fmt.Fprintf(&b, "# tideline: %s, seed %d\n\n", sc.Name, r.Seed)
	for _, line := range wrap(sc.Description, 100) {
		fmt.Fprintf(&b, "> %s\n", line)
	}
	fmt.Fprintf(&b, "\n**%s.** Reproduce with `%s`.\n\n", verdict, command)
	fmt.Fprintf(&b, "- cluster: %s\n", describeCluster(sc.Cluster))
	fmt.Fprintf(&b, "- run: %v simulated, %d events, trace hash `%016x`\n", r.Duration, r.Events, r.TraceHash)
	s := r.Sends
	fmt.Fprintf(&b, "- produce: %d sent, %d acknowledged, %d failed, %d unknown; **%d acknowledged writes lost**%s\n",
		s.Invoked, s.Ok, s.Fail, s.Info+s.Pending, r.Lost, unavailableText(r))
	fmt.Fprintf(&b, "- **availability %s\n", strings.Replace(availabilityText(r), " ", "** ", 1))
	if len(r.Detail.Windows) > 0 {
		fmt.Fprintf(&b, "- unavailable (writes waiting, none acknowledged): %s\n", windowText(r.Detail.Windows))
		if startsAtZero(r.Detail.Windows) {
			fmt.Fprintf(&b, "  (%s)\n", startupNote)
		}
	}
	fmt.Fprintf(&b, "- cluster: %d leader elections%s, %d ISR shrinks, %d ISR expands%s\n", r.Leaders, electionsText(r), r.ISRShrinks, r.ISRExpands, reassignmentsText(r))
	if stuck := stuckReassignments(r); stuck != "" {
		fmt.Fprintf(&b, "- reassignments still in progress at the end (stuck): %s\n", stuck)
	}
	b.WriteString("\n")

	for _, p := range []struct{ name, title, caption string }{
		{AvailabilityPlot, "Availability", "Writes attempted and acknowledged per second; below, per partition, the share of each second's writes acknowledged within the deadline (the headline availability is its mean over time and partitions). Shaded: fault windows, and in grey the settle period; dashed: leader changes."},
		{LatencyPlot, "Latency", "Every write at the time it was sent, as high as its latency to acknowledgement, failure or giving up, coloured by outcome: an outage stands as a wall. Below, p50, p99 and max of the acknowledged writes sent in each second; at the bottom, where they waited on average: blocked in send() for buffer.memory, in the accumulator (linger.ms, a full connection), and from their batch's first send to the answer."},
		{ReplicationPlot, "Replication", "ISR size and leader of every partition, and how many partitions were under-replicated."},
	} {
		fmt.Fprintf(&b, "## %s\n\n![%s](%s.png)\n\n%s ([SVG](%s.svg))\n\n", p.title, p.title, p.name, p.caption, p.name)
	}

	tables := Tables(r)
	for _, t := range tables {
		fmt.Fprintf(&b, "## %s%s\n\n", strings.ToUpper(t.Title[:1]), t.Title[1:])
		if err := t.Markdown(&b); err != nil {
			return err
		}
		b.WriteString("\n")
		if t.Title == "checkers" {
			for _, ch := range r.Checks {
				fmt.Fprintf(&b, "- **%s**: %s\n", ch.Checker, ch.Definition)
			}
			b.WriteString("\n")
			writeMarkdownViolations(&b, r)
		}
	}
	fmt.Fprintf(&b, "## Scenario\n\n```yaml\n%s\n```\n", strings.TrimRight(string(sc.Text), "\n"))
	if len(files) > 0 {
		b.WriteString("\n## Files\n\n")
		for _, f := range files {
			fmt.Fprintf(&b, "- [%s](%s)\n", f, f)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeMarkdownViolations(b *strings.Builder, r *runner.Result) {
	for _, ch := range r.Checks {
		if ch.OK() {
			continue
		}
		fmt.Fprintf(b, "### %s: %d violations\n\n", ch.Checker, len(ch.Violations))
		for i, v := range ch.Violations {
			if i == maxViolationsShown {
				fmt.Fprintf(b, "… and %d more (all in summary.json).\n\n", len(ch.Violations)-maxViolationsShown)
				break
			}
			fmt.Fprintf(b, "- `%s` %s\n", v.Kind, v.Message)
			if i == 0 && len(v.Story) > 0 {
				b.WriteString("\n  How it happened:\n\n")
				for _, line := range v.Story {
					fmt.Fprintf(b, "  %s\n", line)
				}
				b.WriteString("\n")
			}
		}
		b.WriteString("\n")
	}
}
