package runner

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/tideline-sim/tideline/scenarios"
)

// evaluate holds the run to its scenario's expect block: each checker's
// verdict against pass, fail or any, and each measure against its
// comparison.
func (r *Result) evaluate() {
	expected := map[string]scenarios.Expectation{}
	for _, e := range r.Scenario.Expect {
		expected[e.Name] = e
	}
	for _, ch := range r.Checks {
		e, ok := expected[ch.Checker]
		want := "pass"
		switch {
		case ok && e.Any:
			want = "any"
		case ok && !e.Pass:
			want = "fail"
		}
		got := ch.Verdict()
		if !ch.OK() {
			got = fmt.Sprintf("fail (%d violations)", len(ch.Violations))
		}
		r.Expectations = append(r.Expectations, Outcome{Name: ch.Checker, Want: want, Got: got, OK: want == "any" || ch.OK() == (want == "pass")})
	}
	for _, e := range r.Scenario.Expect {
		var got float64
		var text string
		switch e.Name {
		case scenarios.Availability:
			got = r.Availability
			text = fmt.Sprintf("%.4f", got)
		case scenarios.EventuallyAcknowledged:
			got = r.Detail.Share
			text = fmt.Sprintf("%.4f", got)
		case scenarios.MaxOutage:
			_, o := r.Detail.Longest()
			got, text = o.Length().Seconds(), o.Length().Round(time.Millisecond).String()
			if o.Ongoing {
				got, text = math.Inf(1), "ongoing at the end of the load ("+text+" so far)"
			}
		case scenarios.MaxRecovery:
			worst, never := r.worstRecovery()
			got, text = worst.Seconds(), worst.Round(time.Millisecond).String()
			if never {
				// Writes that never resumed took longer than any bound.
				got, text = math.Inf(1), "never"
			}
		case scenarios.Lost:
			got, text = float64(r.Lost), strconv.Itoa(r.Lost)
		case scenarios.OfflinePartitions:
			got, text = float64(r.OfflinePartitions), strconv.Itoa(r.OfflinePartitions)
		case scenarios.Reordered:
			got, text = float64(r.Reordered), strconv.Itoa(r.Reordered)
		case scenarios.Duplicated:
			got, text = float64(r.Duplicated), strconv.Itoa(r.Duplicated)
		case scenarios.Unprocessed, scenarios.DuplicatesProcessed, scenarios.MaxLag, scenarios.Rebalances:
			n := r.groupMeasure(e.Name)
			got, text = float64(n), strconv.FormatInt(n, 10)
		default:
			continue
		}
		want := e.Op + " " + strconv.FormatFloat(e.Value, 'g', -1, 64)
		if e.Name == scenarios.MaxRecovery || e.Name == scenarios.MaxOutage {
			want = e.Op + " " + time.Duration(e.Value*float64(time.Second)).String()
		}
		r.Expectations = append(r.Expectations, Outcome{Name: e.Name, Want: want, Got: text, OK: e.Holds(got)})
	}
}

// worstRecovery is the longest time any fault kept writes from resuming;
// never reports a fault after which they did not resume at all.
func (r *Result) worstRecovery() (worst time.Duration, never bool) {
	for _, rec := range r.Detail.Recoveries {
		if rec.WritesResumed < 0 {
			never = true
		}
		worst = max(worst, rec.WritesResumed)
	}
	return worst, never
}

// groupMeasure totals a consumer group measure over every group (max-lag:
// the largest of any).
func (r *Result) groupMeasure(name string) int64 {
	var n int64
	for _, g := range r.Groups {
		switch name {
		case scenarios.Unprocessed:
			n += int64(g.Unprocessed)
		case scenarios.DuplicatesProcessed:
			n += int64(g.ProcessedTwice)
		case scenarios.MaxLag:
			n = max(n, g.MaxLag)
		case scenarios.Rebalances:
			n += int64(len(g.Rebalances))
		}
	}
	return n
}
