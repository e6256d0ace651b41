package report

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/runner"
)

// Table is a titled table of strings, rendered for the terminal or as
// Markdown. Building tables apart from drawing them keeps the numbers
// testable.
type Table struct {
	Title  string
	Header []string
	Rows   [][]string
}

// Tables returns the summary tables of a run: checker verdicts, outcomes
// per producer, recovery per fault, load per broker, expectations.
func Tables(r *runner.Result) []Table {
	tables := []Table{CheckerTable(r), ProducerTable(r)}
	if len(r.Groups) > 0 {
		tables = append(tables, GroupTable(r))
	}
	if len(r.Detail.Partitions) > 0 {
		tables = append(tables, AvailabilityTable(r))
	}
	if len(r.Faults) > 0 {
		tables = append(tables, FaultTable(r))
	}
	tables = append(tables, BrokerTable(r))
	if r.Scenario.Cluster.Controllers > 1 {
		tables = append(tables, ControllerTable(r))
	}
	return append(tables, ExpectationTable(r))
}

// ControllerTable is the controller quorum: when each controller was the
// active one, and how often it resigned or lost its leader.
func ControllerTable(r *runner.Result) Table {
	t := Table{Title: "controllers (KRaft quorum)", Header: []string{"controller", "times active", "active from (epoch)", "check-quorum resignations", "lost the leader"}}
	n := r.Scenario.Cluster.Controllers
	active, resigned, lost := make([]int, n), make([]int, n), make([]int, n)
	from := make([][]string, n)
	for _, e := range r.Journal {
		v := int(e.Voter)
		if v < 0 || v >= n {
			continue
		}
		switch e.Kind {
		case journal.EvControllerActive:
			active[v]++
			from[v] = append(from[v], fmt.Sprintf("%s (%d)", seconds(e.Time.Since()), e.Epoch))
		case journal.EvControllerResigned:
			resigned[v]++
		case journal.EvControllerLostLeader:
			voter := -1
			fmt.Sscanf(e.Node, "controller-%d", &voter)
			if voter >= 0 && voter < n {
				lost[voter]++
			}
		}
	}
	for v := range n {
		when := "-"
		if len(from[v]) > 0 {
			when = strings.Join(from[v], ", ")
		}
		t.Rows = append(t.Rows, []string{fmt.Sprintf("controller-%d", v), strconv.Itoa(active[v]), when, strconv.Itoa(resigned[v]), strconv.Itoa(lost[v])})
	}
	return t
}

// CheckerTable is each checker's verdict.
func CheckerTable(r *runner.Result) Table {
	t := Table{Title: "checkers", Header: []string{"checker", "verdict", "violations", "notes"}}
	for _, ch := range r.Checks {
		t.Rows = append(t.Rows, []string{ch.Checker, ch.Verdict(), strconv.Itoa(len(ch.Violations)), strconv.Itoa(len(ch.Notes))})
	}
	return t
}

// ProducerTable is the outcome of every producer's sends, and how it sent
// them: batches, their mean size in records, the produce requests that
// carried them, the most requests it had in flight on one connection, and
// batches sent again.
func ProducerTable(r *runner.Result) Table {
	t := Table{Title: "producers", Header: []string{"producer", "acks", "idempotent", "sent", "ok", "failed", "unknown", "eventually acknowledged",
		"batches", "avg batch", "requests", "in flight (max)", "retries"}}
	type counts struct {
		acks                      int
		idempotent                bool
		sent, ok, failed, unknown int
	}
	var names []string
	by := map[string]*counts{}
	for _, op := range r.History.All() {
		if op.F != journal.OpSend {
			continue
		}
		c := by[op.Process]
		if c == nil {
			c = &counts{acks: int(op.Acks), idempotent: op.Idempotent}
			by[op.Process] = c
			names = append(names, op.Process)
		}
		switch op.Type {
		case journal.Invoke:
			c.sent++
		case journal.Ok:
			c.ok++
		case journal.Fail:
			c.failed++
		case journal.Info:
			c.unknown++
		}
	}
	slices.Sort(names)
	for _, name := range names {
		c := by[name]
		unknown := c.sent - c.ok - c.failed // never finished counts as unknown too
		share := 1.0
		if c.sent > 0 {
			share = float64(c.ok) / float64(c.sent)
		}
		var m journal.ProducerMetrics
		if i, err := strconv.Atoi(strings.TrimPrefix(name, "producer-")); err == nil && i >= 0 && i < len(r.Producers) {
			m = r.Producers[i]
		}
		t.Rows = append(t.Rows, []string{name, acksText(c.acks), strconv.FormatBool(c.idempotent),
			strconv.Itoa(c.sent), strconv.Itoa(c.ok), strconv.Itoa(c.failed), strconv.Itoa(unknown), fmt.Sprintf("%.4f", share),
			strconv.FormatInt(m.Batches, 10), fmt.Sprintf("%.1f", m.AvgBatch()), strconv.FormatInt(m.Requests, 10), strconv.Itoa(m.MaxInFlight), strconv.FormatInt(m.Retries, 10)})
	}
	return t
}

// GroupTable is each consumer group's life: members, generations, its
// rebalances and how long they took, commits, records processed twice and
// acknowledged writes it never processed, and its largest lag.
func GroupTable(r *runner.Result) Table {
	t := Table{Title: "consumer groups", Header: []string{"group", "members", "generations", "rebalances", "rebalance time (max)", "commits (failed)", "processed", "twice", "unprocessed", "max lag"}}
	for _, g := range r.Groups {
		var total, longest time.Duration
		for _, rb := range g.Rebalances {
			end := rb.End
			if end == 0 {
				end = clock.At(r.Duration)
			}
			d := end.Sub(rb.Start)
			total += d
			longest = max(longest, d)
		}
		t.Rows = append(t.Rows, []string{g.Group, strconv.Itoa(len(g.Members)), strconv.Itoa(g.Generations), strconv.Itoa(len(g.Rebalances)),
			fmt.Sprintf("%s (%s)", total.Round(time.Millisecond), longest.Round(time.Millisecond)),
			fmt.Sprintf("%d (%d)", g.Commits, g.CommitFailures), strconv.Itoa(g.Processed), strconv.Itoa(g.ProcessedTwice), strconv.Itoa(g.Unprocessed),
			strconv.FormatInt(g.MaxLag, 10)})
	}
	return t
}

// AvailabilityTable is availability as each partition's writers felt it.
func AvailabilityTable(r *runner.Result) Table {
	d := r.Detail.Deadline.Round(time.Millisecond)
	t := Table{Title: fmt.Sprintf("write availability (acknowledged within %v)", d),
		Header: []string{"partition", "availability", "outages", "longest outage", "from", "to"}}
	for _, p := range r.Detail.Partitions {
		longest, from, to := "-", "-", "-"
		if p.Outages > 0 {
			longest, from, to = durationText(p.Longest.Length()), seconds(p.Longest.From), seconds(p.Longest.To)
			if p.Longest.Ongoing {
				to = "end of load"
			}
		}
		t.Rows = append(t.Rows, []string{p.TP.String(), fmt.Sprintf("%.4f", p.Available), strconv.Itoa(p.Outages), longest, from, to})
	}
	return t
}

// FaultTable is every fault and how long its effect on writes lasted.
func FaultTable(r *runner.Result) Table {
	t := Table{Title: "faults", Header: []string{"at", "fault", "hit", "writes resumed after", "full ISR after"}}
	for i, f := range r.Faults {
		resumed, full := "", ""
		if i < len(r.Detail.Recoveries) {
			rec := r.Detail.Recoveries[i]
			resumed, full = durationText(rec.WritesResumed), durationText(rec.FullyRecovered)
		}
		hit := f.Hit
		if hit == "" {
			hit = "-"
		}
		t.Rows = append(t.Rows, []string{seconds(f.At), f.Text, hit, resumed, full})
	}
	return t
}

// BrokerTable is the load the partition leaders spread over the brokers:
// how often each became leader, and how many records of the final logs it
// appended as leader.
func BrokerTable(r *runner.Result) Table {
	t := Table{Title: "brokers", Header: []string{"broker", "leaderships", "records appended as leader"}}
	n := r.Scenario.Cluster.Brokers
	leaderships := make([]int, n)
	type epochKey struct {
		tp    protocol.TopicPartition
		epoch int32
	}
	leaderOf := map[epochKey]protocol.BrokerID{}
	for _, e := range r.Journal {
		if e.Kind == journal.EvBecameLeader && int(e.Broker) < n {
			leaderships[e.Broker]++
			leaderOf[epochKey{e.TP, e.Epoch}] = e.Broker
		}
	}
	appended := make([]int, n)
	for _, f := range r.Final {
		for rec := range f.Records.All() {
			if b, ok := leaderOf[epochKey{f.TP, rec.Epoch}]; ok {
				appended[b]++
			}
		}
	}
	for b := range n {
		t.Rows = append(t.Rows, []string{fmt.Sprintf("broker-%d", b), strconv.Itoa(leaderships[b]), strconv.Itoa(appended[b])})
	}
	return t
}

// ExpectationTable is the scenario's expectations and what the run gave.
func ExpectationTable(r *runner.Result) Table {
	t := Table{Title: "expectations", Header: []string{"expectation", "want", "got", "holds"}}
	for _, o := range r.Expectations {
		holds := "yes"
		if !o.OK {
			holds = "NO"
		}
		t.Rows = append(t.Rows, []string{o.Name, o.Want, o.Got, holds})
	}
	return t
}

// Render draws a table for the terminal.
func (t Table) Render(w io.Writer) error {
	return t.render(w, tablewriter.WithRowAlignment(tw.AlignLeft))
}

// Markdown draws a table as GitHub-flavoured Markdown.
func (t Table) Markdown(w io.Writer) error {
	return t.render(w, tablewriter.WithRenderer(renderer.NewMarkdown()))
}

func (t Table) render(w io.Writer, opts ...tablewriter.Option) error {
	opts = append(opts, tablewriter.WithHeaderAutoFormat(tw.Off), tablewriter.WithRowAutoWrap(tw.WrapNone))
	tb := tablewriter.NewTable(w, opts...)
	tb.Header(toAny(t.Header)...)
	for _, row := range t.Rows {
		if err := tb.Append(toAny(row)...); err != nil {
			return err
		}
	}
	return tb.Render()
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func acksText(acks int) string {
	if acks == config.AcksAll {
		return "all"
	}
	return strconv.Itoa(acks)
}

func durationText(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	return d.Round(time.Millisecond).String()
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3fs", d.Seconds()) }
