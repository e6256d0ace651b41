package report

import (
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"

	"github.com/tideline-sim/tideline/internal/atomicfile"
	"github.com/tideline-sim/tideline/runner"
)

// CompareFile is the overlaid availability plot of a comparison.
const CompareFile = "compare-availability"

// CompareTable puts several runs side by side: what each setting costs in
// availability and what it risks in lost writes.
func CompareTable(results []*runner.Result) Table {
	t := Table{Title: "comparison", Header: []string{"scenario", "seed", "sent", "ok", "failed", "unknown", "lost", "availability", "longest outage", "worst recovery", "failed checkers", "expectations"}}
	for _, r := range results {
		recovery := "-"
		if len(r.Detail.Recoveries) > 0 {
			recovery = durationText(worstResumed(r))
		}
		var failed []string
		for _, ch := range r.Checks {
			if !ch.OK() {
				failed = append(failed, ch.Checker)
			}
		}
		failedText := strings.Join(failed, ", ")
		if failedText == "" {
			failedText = "none"
		}
		holds := "hold"
		if !r.OK() {
			holds = "FAIL"
		}
		s := r.Sends
		t.Rows = append(t.Rows, []string{r.Scenario.Name, strconv.FormatUint(r.Seed, 10), strconv.Itoa(s.Invoked), strconv.Itoa(s.Ok), strconv.Itoa(s.Fail),
			strconv.Itoa(s.Info + s.Pending), strconv.Itoa(r.Lost), fmt.Sprintf("%.4f", r.Availability), outageText(r), recovery, failedText, holds})
	}
	return t
}

// Compare writes the comparison table for the terminal, and what differs
// between the scenarios compared.
func Compare(w io.Writer, results []*runner.Result) error {
	if _, err := fmt.Fprintln(w, "comparison (same seed through each scenario)"); err != nil {
		return err
	}
	if err := CompareTable(results).Render(w); err != nil {
		return err
	}
	_, err := fmt.Fprint(w, differencesText(results))
	return err
}

// Differences lists what the compared scenarios set differently — the
// cluster, the topics, the clients, the network, the faults, the duration —
// as "setting: first | second | ...": a comparison means what it compares
// only when the reader knows everything that changed.
func Differences(results []*runner.Result) []string {
	type aspect struct {
		name string
		of   func(r *runner.Result) string
	}
	aspects := []aspect{
		{"duration", func(r *runner.Result) string { return r.Scenario.Duration.String() }},
		{"settle", func(r *runner.Result) string { return r.Scenario.Settle.String() }},
		{"brokers", func(r *runner.Result) string { return strconv.Itoa(r.Scenario.Cluster.Brokers) }},
		{"controllers", func(r *runner.Result) string { return strconv.Itoa(r.Scenario.Cluster.Controllers) }},
		{"topics", func(r *runner.Result) string {
			var ts []string
			for _, t := range r.Scenario.Cluster.Topics {
				minISR := r.Scenario.Cluster.Broker.MinInsyncReplicas
				if t.MinInsyncReplicas != nil {
					minISR = *t.MinInsyncReplicas
				}
				ts = append(ts, fmt.Sprintf("%s: %d partitions, RF %d, min.insync.replicas %d", t.Name, t.Partitions, t.ReplicationFactor, minISR))
			}
			return strings.Join(ts, "; ")
		}},
		{"producers", func(r *runner.Result) string {
			var ps []string
			for _, p := range r.Scenario.Cluster.Producers {
				ps = append(ps, fmt.Sprintf("%v/s acks=%s idempotence=%v", p.Rate, acksText(p.Acks), p.Idempotence))
			}
			return strings.Join(ps, "; ")
		}},
		{"consumers", func(r *runner.Result) string { return strconv.Itoa(len(r.Scenario.Cluster.Consumers)) }},
		{"faults", func(r *runner.Result) string {
			var fs []string
			for _, f := range r.Scenario.Faults {
				fs = append(fs, f.At.String()+" "+f.Text)
			}
			return strings.Join(fs, "; ")
		}},
	}
	out := fieldDifferences("broker ", results, func(r *runner.Result) any { return r.Scenario.Cluster.Broker })
	out = append(out, fieldDifferences("network ", results, func(r *runner.Result) any { return r.Scenario.Network })...)
	for _, a := range aspects {
		values := make([]string, len(results))
		same := true
		for i, r := range results {
			values[i] = a.of(r)
			same = same && values[i] == values[0]
		}
		if !same {
			out = append(out, a.name+": "+strings.Join(values, " | "))
		}
	}
	return out
}

// fieldDifferences names the fields of a settings struct that differ
// between the results, one line each, nested structs by their path.
func fieldDifferences(prefix string, results []*runner.Result, of func(*runner.Result) any) []string {
	values := make([]reflect.Value, len(results))
	for i, r := range results {
		values[i] = reflect.ValueOf(of(r))
	}
	var out []string
	var walk func(prefix string, vs []reflect.Value)
	walk = func(prefix string, vs []reflect.Value) {
		t := vs[0].Type()
		for f := range t.NumField() {
			if !t.Field(f).IsExported() {
				continue
			}
			field := make([]reflect.Value, len(vs))
			for i, v := range vs {
				field[i] = v.Field(f)
			}
			_, stringer := field[0].Interface().(fmt.Stringer)
			if t.Field(f).Type.Kind() == reflect.Struct && !stringer {
				walk(prefix+t.Field(f).Name+".", field)
				continue
			}
			texts := make([]string, len(field))
			same := true
			for i, v := range field {
				texts[i] = fmt.Sprint(v.Interface())
				same = same && texts[i] == texts[0]
			}
			if !same {
				out = append(out, prefix+t.Field(f).Name+": "+strings.Join(texts, " | "))
			}
		}
	}
	walk(prefix, values)
	return out
}

// differencesText is Differences as indented lines for the terminal.
func differencesText(results []*runner.Result) string {
	diffs := Differences(results)
	if len(diffs) == 0 {
		return "the scenarios set nothing differently: only their names differ\n"
	}
	var b strings.Builder
	b.WriteString("what differs (in the order of the table):\n")
	for _, d := range diffs {
		b.WriteString("  " + d + "\n")
	}
	return b.String()
}

// WriteCompare writes a comparison's folder, which Prepare readied: the
// overlaid plot and a report.md of its own, so that nothing in the folder
// belongs to an earlier run.
func WriteCompare(dir string, results []*runner.Result, command string) error {
	if err := WriteComparePlot(dir, results); err != nil {
		return err
	}
	var md strings.Builder
	md.WriteString("# tideline comparison\n\n")
	fmt.Fprintf(&md, "`%s` (same seed through each scenario)\n\n", command)
	if err := CompareTable(results).Markdown(&md); err != nil {
		return err
	}
	md.WriteString("\n")
	diffs := Differences(results)
	if len(diffs) == 0 {
		md.WriteString("The scenarios set nothing differently: only their names differ.\n")
	} else {
		md.WriteString("What differs, in the order of the table:\n\n")
		for _, d := range diffs {
			fmt.Fprintf(&md, "- %s\n", d)
		}
	}
	fmt.Fprintf(&md, "\n![availability compared](%s.png)\n", CompareFile)
	return atomicfile.Write(filepath.Join(dir, ReportFile), []byte(md.String()))
}

// WriteComparePlot overlays the runs' acknowledged writes per second and
// share of each second's writes acknowledged within the deadline, one line
// per scenario.
func WriteComparePlot(dir string, results []*runner.Result) error {
	if len(results) == 0 {
		return nil
	}
	longest := results[0]
	for _, r := range results {
		if r.Duration > longest.Duration {
			longest = r
		}
	}
	top := newPanel(longest, "acknowledged writes per second", "writes per second")
	bottom := newPanel(longest, "availability: share of each second's writes acknowledged within the deadline", "share")
	peak := 1.0
	for i, r := range results {
		step := r.Detail.Bucket.Seconds()
		acked, share := make(plotter.XYs, len(r.Detail.Buckets)), make(plotter.XYs, len(r.Detail.Buckets))
		for j, b := range r.Detail.Buckets {
			acked[j] = plotter.XY{X: b.Start.Seconds(), Y: float64(b.Acked) / step}
			share[j] = plotter.XY{X: b.Start.Seconds(), Y: b.OnTimeShare()}
			peak = max(peak, acked[j].Y)
		}
		c := palette[i%len(palette)]
		a, s := line(acked, c, true), line(share, c, true)
		top.Add(a)
		bottom.Add(s)
		top.Legend.Add(r.Scenario.Name, a)
		bottom.Legend.Add(r.Scenario.Name, s)
	}
	top.Y.Min, top.Y.Max = 0, peak*headroom
	bottom.Y.Min, bottom.Y.Max = 0, headroom
	w, h, render := stacked([]*plot.Plot{top, bottom})
	return SaveImage(dir, CompareFile, w, h, render)
}

// worstResumed is the longest time any fault kept writes from resuming,
// -1 if one never let them.
func worstResumed(r *runner.Result) time.Duration {
	var worst time.Duration
	for _, rec := range r.Detail.Recoveries {
		if rec.WritesResumed < 0 {
			return -1
		}
		worst = max(worst, rec.WritesResumed)
	}
	return worst
}

// outageText is a run's longest write outage, briefly.
func outageText(r *runner.Result) string {
	tp, o := r.Detail.Longest()
	if o.Length() == 0 && !o.Ongoing {
		return "-"
	}
	text := fmt.Sprintf("%v %v", tp, o.Length().Round(time.Millisecond))
	if o.Ongoing {
		text += " (ongoing)"
	}
	return text
}
