package sweep

import (
	"bytes"
	"cmp"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/tideline-sim/tideline/internal/atomicfile"
	"github.com/tideline-sim/tideline/report"
)

// Metric is one number a heatmap and a column show per cell.
type Metric struct {
	Name   string // file name of its heatmap
	Title  string
	Better string // "low" or "high": which end is good, for the colours
	Value  func(Summary) float64
	Format func(float64) string
}

func share(v float64) string    { return fmt.Sprintf("%.3f", v) }
func count(v float64) string    { return strconv.FormatFloat(v, 'f', -1, 64) }
func secs(v float64) string     { return fmt.Sprintf("%.1fs", v) }
func millis(v float64) string   { return fmt.Sprintf("%.0fms", v) }
func perSec(v float64) string   { return fmt.Sprintf("%.0f/s", v) }
func oneDigit(v float64) string { return fmt.Sprintf("%.1f", v) }

// Metrics are the sweep's numbers, in the order of the table.
var Metrics = []Metric{
	{"lost-mean", "acknowledged writes lost (mean over seeds)", "low", func(s Summary) float64 { return s.LostMean }, oneDigit},
	{"lost-max", "acknowledged writes lost (worst seed)", "low", func(s Summary) float64 { return float64(s.LostMax) }, count},
	{"loss-share", "share of seeds that lost acknowledged writes", "low", func(s Summary) float64 { return s.LossShare }, share},
	{"availability", "availability (median over seeds)", "high", func(s Summary) float64 { return s.AvailMedian }, share},
	{"availability-p99", "availability (99% of seeds at least)", "high", func(s Summary) float64 { return s.AvailP99 }, share},
	{"outage", "longest write outage (median)", "low", func(s Summary) float64 { return s.OutageMedian }, secs},
	{"outage-p99", "longest write outage (99% of seeds at most)", "low", func(s Summary) float64 { return s.OutageP99 }, secs},
	{"latency-p99", "p99 produce latency (median over seeds)", "low", func(s Summary) float64 { return s.P99Latency }, millis},
	{"throughput", "acknowledged writes a second (median)", "high", func(s Summary) float64 { return s.Throughput }, perSec},
}

// Table is the sweep as one row a cell.
func Table(g *Grid, sums []Summary) report.Table {
	t := report.Table{Title: fmt.Sprintf("sweep of %s over %d seeds", g.Base.Name, g.Seeds)}
	for _, a := range g.Axes {
		t.Header = append(t.Header, a.Property)
	}
	for _, m := range []string{"lost mean", "lost max", "seeds with loss", "availability", "availability p99", "outage", "outage p99", "latency p99", "throughput", "failed checkers"} {
		t.Header = append(t.Header, m)
	}
	for _, s := range sums {
		row := append([]string{}, s.Cell.Values...)
		if s.Skipped != "" {
			row = append(row, "not run: "+s.Skipped)
			for len(row) < len(t.Header) {
				row = append(row, "")
			}
			t.Rows = append(t.Rows, row)
			continue
		}
		for _, m := range Metrics {
			row = append(row, text(m, s))
		}
		failed := strings.Join(s.Failed, ", ")
		if s.Errors > 0 {
			failed = strings.TrimPrefix(failed+fmt.Sprintf(", %d runs failed to run", s.Errors), ", ")
		}
		t.Rows = append(t.Rows, append(row, cmp.Or(failed, "-")))
	}
	return t
}

func text(m Metric, s Summary) string {
	v := m.Value(s)
	if math.IsNaN(v) {
		return "-"
	}
	return m.Format(v)
}

// WriteReport writes the sweep into dir: report.md with the table, one
// heatmap a metric (PNG and SVG), and for every cell that lost
// acknowledged writes its scenario at its worst seed under cells/, with the
// command that reproduces it.
func WriteReport(dir string, g *Grid, sums []Summary, command string) error {
	if err := os.MkdirAll(filepath.Join(dir, "cells"), 0o755); err != nil {
		return err
	}
	// Cells an earlier sweep wrote here are not this one's.
	old, _ := filepath.Glob(filepath.Join(dir, "cells", "*.yaml"))
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# tideline sweep: %s\n\n", g.Base.Name)
	for _, line := range strings.Split(strings.TrimSpace(g.Base.Description), "\n") {
		fmt.Fprintf(&b, "> %s\n", line)
	}
	fmt.Fprintf(&b, "\nVaried: %s; seeds 1-%d for every cell. Made with `%s`.\n\n", axesText(g), g.Seeds, command)
	fmt.Fprintf(&b, "Availability is the share of time a write sent then was acknowledged within the deadline (tideline.availability.deadline.ms); "+
		"the outage is a run's longest stretch without that on any partition. \"p99\" is the value 99%% of seeds did at least as well as.\n\n")
	if err := Table(g, sums).Markdown(&b); err != nil {
		return err
	}
	var repro []string
	for _, s := range sums {
		if s.WorstSeed == 0 {
			continue
		}
		name := cellFile(g, s.Cell)
		sc, err := g.Scenario(s.Cell, s.WorstSeed)
		if err != nil {
			return err
		}
		if err := atomicfile.Write(filepath.Join(dir, "cells", name), sc.Text); err != nil {
			return err
		}
		repro = append(repro, fmt.Sprintf("- %s: %d lost on seed %d: `simulate -scenario %s -seed %d`", s.Name, s.LostMax, s.WorstSeed,
			filepath.ToSlash(filepath.Join(dir, "cells", name)), s.WorstSeed))
	}
	if len(repro) > 0 {
		fmt.Fprintf(&b, "\n## Cells that lost acknowledged writes\n\nEach at its worst seed:\n\n%s\n", strings.Join(repro, "\n"))
	}
	b.WriteString("\n## Heatmaps\n\n")
	for _, m := range Metrics {
		if err := heatmap(dir, g, sums, m); err != nil {
			return fmt.Errorf("%s heatmap: %w", m.Name, err)
		}
		fmt.Fprintf(&b, "### %s\n\n![%s](%s.png) ([SVG](%s.svg))\n\n", m.Title, m.Title, m.Name, m.Name)
	}
	return atomicfile.Write(filepath.Join(dir, "report.md"), b.Bytes())
}

// Print writes the table for the terminal.
func Print(w io.Writer, g *Grid, sums []Summary) error {
	fmt.Fprintf(w, "sweep: %s, %s, seeds 1-%d\n", g.Base.Name, axesText(g), g.Seeds)
	return Table(g, sums).Render(w)
}

func axesText(g *Grid) string {
	parts := make([]string, len(g.Axes))
	for i, a := range g.Axes {
		parts[i] = a.Property + " " + strings.Join(a.Values, "/")
	}
	return strings.Join(parts, " x ")
}

// cellFile names a cell's scenario file: its settings, safe as a name.
func cellFile(g *Grid, c Cell) string {
	name := strings.NewReplacer(" ", "_", "/", "-", "\\", "-", ":", "-").Replace(g.Name(c))
	return fmt.Sprintf("%03d-%s.yaml", c.Index, name)
}

// grid is a metric over the cells as a heatmap sees it: columns are the
// last axis's values, rows every combination of the others.
type grid struct {
	cols, rows int
	z          []float64
}

func (h grid) Dims() (c, r int)   { return h.cols, h.rows }
func (h grid) Z(c, r int) float64 { return h.z[r*h.cols+c] }
func (h grid) X(c int) float64    { return float64(c) }
func (h grid) Y(r int) float64    { return float64(r) }

// heatmap draws one metric over the cells, each cell labelled with its
// value.
func heatmap(dir string, g *Grid, sums []Summary, m Metric) error {
	last := g.Axes[len(g.Axes)-1]
	cols := len(last.Values)
	rows := len(sums) / cols
	h := grid{cols: cols, rows: rows, z: make([]float64, len(sums))}
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, s := range sums {
		// Row 0 is drawn at the bottom: flip so the table's first row is on top.
		r, c := rows-1-i/cols, i%cols
		v := m.Value(s)
		h.z[r*cols+c] = v
		if !math.IsNaN(v) {
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	if math.IsInf(lo, 0) {
		lo, hi = 0, 1
	}
	if hi == lo {
		hi = lo + 1
	}
	var cm palette.ColorMap = moreland.SmoothBlueRed() // blue good, red bad
	if m.Better == "high" {
		cm = palette.Reverse(cm)
	}
	cm.SetMin(lo)
	cm.SetMax(hi)
	pal := cm.Palette(64)
	p := plot.New()
	p.Title.Text = m.Title
	hm := plotter.NewHeatMap(h, pal)
	hm.Min, hm.Max = lo, hi
	hm.NaN = colorNotRun
	p.Add(hm)
	var labels plotter.XYLabels
	for i, s := range sums {
		r, c := rows-1-i/cols, i%cols
		labels.XYs = append(labels.XYs, plotter.XY{X: float64(c), Y: float64(r)})
		t := text(m, s)
		if s.Skipped != "" {
			t = "not run"
		}
		labels.Labels = append(labels.Labels, t)
	}
	if l, err := plotter.NewLabels(labels); err == nil {
		for i := range l.TextStyle {
			l.TextStyle[i].XAlign, l.TextStyle[i].YAlign = draw.XCenter, draw.YCenter
			l.TextStyle[i].Font.Size = vg.Points(11)
		}
		p.Add(l)
	}
	var xt, yt []plot.Tick
	for c, v := range last.Values {
		xt = append(xt, plot.Tick{Value: float64(c), Label: v})
	}
	for r := range rows {
		cell := sums[(rows-1-r)*cols]
		yt = append(yt, plot.Tick{Value: float64(r), Label: strings.TrimSpace(strings.TrimSuffix(g.Name(cell.Cell), last.Property+"="+cell.Cell.Values[len(cell.Cell.Values)-1]))})
	}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.ConstantTicks(xt), plot.ConstantTicks(yt)
	p.X.Label.Text = last.Property
	p.X.Min, p.X.Max = -0.5, float64(cols)-0.5
	p.Y.Min, p.Y.Max = -0.5, float64(rows)-0.5
	// The colour scale under the map: which colour is which value, and
	// which end is the good one.
	scale := plot.New()
	scale.HideY()
	scale.X.Padding = 0
	good := "low"
	if m.Better == "high" {
		good = "high"
	}
	scale.X.Label.Text = fmt.Sprintf("colour scale (blue is better: %s values are good; grey: not run)", good)
	scale.X.Tick.Marker = formattedTicks{m.Format}
	scale.Add(&plotter.ColorBar{ColorMap: cm})
	barHeight := vg.Inch * 0.8
	width := vg.Inch * vg.Length(3+1.4*float64(cols))
	height := vg.Inch*vg.Length(1.3+0.55*float64(rows)) + barHeight
	return report.SaveImage(dir, m.Name, width, height, func(c draw.Canvas) {
		p.Draw(draw.Crop(c, 0, 0, barHeight, 0))
		scale.Draw(draw.Crop(c, vg.Inch*0.3, -vg.Inch*0.3, 0, -(c.Max.Y - c.Min.Y - barHeight)))
	})
}

// formattedTicks are the default ticks labelled as the metric writes its
// values (0.950, 12.0s, 500/s).
type formattedTicks struct{ format func(float64) string }

func (f formattedTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := (plot.DefaultTicks{}).Ticks(lo, hi)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = f.format(ticks[i].Value)
		}
	}
	return ticks
}

var colorNotRun = color.Gray16{Y: 0xdddd}
