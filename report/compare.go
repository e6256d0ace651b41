package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"

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

// Compare writes the comparison table for the terminal.
func Compare(w io.Writer, results []*runner.Result) error {
	if _, err := fmt.Fprintln(w, "comparison (same seed through each scenario)"); err != nil {
		return err
	}
	return CompareTable(results).Render(w)
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
