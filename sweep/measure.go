package sweep

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/report"
	"github.com/tideline-sim/tideline/runner"
)

// Run is what one (cell, seed) gave: the numbers a sweep compares.
type Run struct {
	Cell      int     `json:"cell"`
	Seed      uint64  `json:"seed"`
	Lost      int     `json:"lost"`
	Available float64 `json:"availability"`
	// LongestOutage is the longest write outage of any partition, in
	// seconds.
	LongestOutage float64  `json:"longest_outage_s"`
	P99LatencyMs  float64  `json:"p99_latency_ms"` // of acknowledged writes
	Throughput    float64  `json:"throughput"`     // acknowledged writes a second of load
	Failed        []string `json:"failed_checkers,omitempty"`
	TraceHash     string   `json:"trace_hash"`
	Skipped       string   `json:"skipped,omitempty"` // why the cell could not run
	Error         string   `json:"error,omitempty"`
}

// Measure takes a run's numbers.
func Measure(cell int, seed uint64, res *runner.Result) Run {
	_, o := res.Detail.Longest()
	r := Run{Cell: cell, Seed: seed, Lost: res.Lost, Available: res.Availability, LongestOutage: o.Length().Seconds(),
		P99LatencyMs: p99Latency(res.History), TraceHash: fmt.Sprintf("%016x", res.TraceHash)}
	if load := res.Scenario.FaultWindowEnd().Seconds(); load > 0 {
		r.Throughput = float64(res.Sends.Ok) / load
	}
	for _, ch := range res.Checks {
		if !ch.OK() {
			r.Failed = append(r.Failed, ch.Checker)
		}
	}
	return r
}

func p99Latency(h *journal.History) float64 {
	var invoked journal.PayloadTable[clock.Time]
	var ms []float64
	for _, op := range h.All() {
		switch {
		case op.F != journal.OpSend:
		case op.Type == journal.Invoke:
			invoked.Set(op.Payload, op.Time)
		case op.Type == journal.Ok:
			at, _ := invoked.Get(op.Payload)
			ms = append(ms, float64(op.Time.Sub(at))/float64(time.Millisecond))
		}
	}
	slices.Sort(ms)
	return report.Percentile(ms, 0.99)
}

// Summary is one cell over its seeds.
type Summary struct {
	Cell    Cell
	Name    string
	Seeds   int
	Skipped string // why the cell did not run, if it did not
	Errors  int
	// Lost acknowledged writes: mean and max over seeds, and the share of
	// seeds that lost any.
	LostMean, LossShare float64
	LostMax             int
	WorstSeed           uint64 // the seed that lost the most (0 if none lost any)
	// Availability: the median and the value 99% of seeds did at least as
	// well as; the longest outage likewise (seconds).
	AvailMedian, AvailP99   float64
	OutageMedian, OutageP99 float64
	P99Latency              float64 // the median over seeds of each run's p99, ms
	Throughput              float64 // the median, acknowledged writes a second
	Failed                  []string
}

// Summarise folds the runs into one summary a cell, in cell order.
func Summarise(g *Grid, runs []Run) []Summary {
	cells := g.Cells()
	by := make([][]Run, len(cells))
	for _, r := range runs {
		by[r.Cell] = append(by[r.Cell], r)
	}
	out := make([]Summary, len(cells))
	for i, c := range cells {
		s := Summary{Cell: c, Name: g.Name(c), Seeds: len(by[i])}
		var avail, outage, lat, thr []float64
		lost := 0
		for _, r := range by[i] {
			switch {
			case r.Skipped != "":
				s.Skipped = r.Skipped
				continue
			case r.Error != "":
				s.Errors++
				continue
			}
			lost += r.Lost
			if r.Lost > 0 {
				s.LossShare++
			}
			if r.Lost > s.LostMax || s.WorstSeed == 0 && r.Lost > 0 {
				s.LostMax, s.WorstSeed = r.Lost, r.Seed
			}
			avail, outage, thr = append(avail, r.Available), append(outage, r.LongestOutage), append(thr, r.Throughput)
			if !math.IsNaN(r.P99LatencyMs) {
				lat = append(lat, r.P99LatencyMs)
			}
			for _, f := range r.Failed {
				if !slices.Contains(s.Failed, f) {
					s.Failed = append(s.Failed, f)
				}
			}
		}
		if n := len(avail); n > 0 {
			s.LostMean, s.LossShare = float64(lost)/float64(n), s.LossShare/float64(n)
			slices.Sort(avail)
			slices.Sort(outage)
			slices.Sort(lat)
			slices.Sort(thr)
			s.AvailMedian, s.AvailP99 = report.Percentile(avail, 0.5), report.Percentile(avail, 0.01)
			s.OutageMedian, s.OutageP99 = report.Percentile(outage, 0.5), report.Percentile(outage, 0.99)
			s.P99Latency, s.Throughput = report.Percentile(lat, 0.5), report.Percentile(thr, 0.5)
		} else {
			nan := math.NaN()
			s.LostMean, s.LossShare, s.AvailMedian, s.AvailP99, s.OutageMedian, s.OutageP99, s.P99Latency, s.Throughput = nan, nan, nan, nan, nan, nan, nan, nan
		}
		slices.Sort(s.Failed)
		out[i] = s
	}
	return out
}
