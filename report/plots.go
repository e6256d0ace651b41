package report

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/tideline-sim/tideline/check"
	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/internal/atomicfile"
	"github.com/tideline-sim/tideline/runner"
	"github.com/tideline-sim/tideline/scenarios"
)

// Plot sizes: a wide page, one band per panel.
const (
	maxLines   = 12 // lines a partition in a panel; past that, the ones that matter most
	plotWidth  = 12 * vg.Inch
	panelTall  = 3.2 * vg.Inch
	plotDPI    = 96
	headroom   = 1.3 // y axes reach this far above the data, leaving room for fault labels
	seriesLine = 1.5
	// legendStrip is the band right of each panel's data that holds its
	// legend: a legend never covers data.
	legendStrip = 2.2 * vg.Inch
)

// Plot file names, written in pairs (.png and .svg).
const (
	AvailabilityPlot = "availability"
	LatencyPlot      = "latency"
	ReplicationPlot  = "replication"
)

// PlotNames lists the plots WritePlots writes.
var PlotNames = []string{AvailabilityPlot, LatencyPlot, ReplicationPlot}

// WritePlots renders the run's plots into dir as PNG and SVG. The six
// pictures are drawn side by side, each from panels of its own (drawing a
// gonum plot writes to it, so two pictures never share one); every file's
// bytes are the same whichever finishes first. The two latency pictures
// share one reading of the history, made by whichever asks first.
func WritePlots(dir string, r *runner.Result) error {
	latency := sync.OnceValue(func() *latencies { return measureLatencies(r) })
	plots := []struct {
		name   string
		panels func() []*plot.Plot
	}{
		{LatencyPlot, func() []*plot.Plot { return latency().panels(r) }},
		{ReplicationPlot, func() []*plot.Plot { return replicationPanels(r) }},
		{AvailabilityPlot, func() []*plot.Plot { return availabilityPanels(r) }},
	}
	savers := []func(dir, name string, w, h vg.Length, render func(draw.Canvas)) error{savePNG, saveSVG}
	errs := make([]error, len(plots)*len(savers))
	var wg sync.WaitGroup
	for i, p := range plots {
		for j, save := range savers {
			wg.Go(func() {
				w, h, render := stacked(p.panels())
				if err := save(dir, p.name, w, h, render); err != nil {
					errs[i*len(savers)+j] = fmt.Errorf("%s plot: %w", p.name, err)
				}
			})
		}
	}
	wg.Wait()
	return errors.Join(errs...)
}

// stacked lays panels out one above the other: the picture's size, and how
// to draw it.
func stacked(panels []*plot.Plot) (w, h vg.Length, render func(draw.Canvas)) {
	grid := make([][]*plot.Plot, len(panels))
	for i, p := range panels {
		grid[i] = []*plot.Plot{p}
	}
	tiles := draw.Tiles{Rows: len(panels), Cols: 1, PadTop: 4, PadBottom: 4, PadLeft: 4, PadRight: 8, PadY: 6}
	return plotWidth, panelTall * vg.Length(len(panels)), func(dc draw.Canvas) { drawGrid(grid, tiles, dc) }
}

// SaveImage renders a w x h picture and writes it as dir/name.png and
// dir/name.svg, each whole or not at all.
func SaveImage(dir, name string, w, h vg.Length, render func(draw.Canvas)) error {
	if err := savePNG(dir, name, w, h, render); err != nil {
		return err
	}
	return saveSVG(dir, name, w, h, render)
}

func savePNG(dir, name string, w, h vg.Length, render func(draw.Canvas)) error {
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(plotDPI), vgimg.UseBackgroundColor(color.White))
	render(draw.New(img))
	var b bytes.Buffer
	if err := encodePNG(&b, img.Image()); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, name+".png"), b.Bytes())
}

func saveSVG(dir, name string, w, h vg.Length, render func(draw.Canvas)) error {
	svg := vgsvg.New(w, h)
	render(draw.New(svg))
	var b bytes.Buffer
	if _, err := svg.WriteTo(&b); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, name+".svg"), b.Bytes())
}

func drawGrid(grid [][]*plot.Plot, tiles draw.Tiles, dc draw.Canvas) {
	canvases := plot.Align(grid, tiles, dc)
	// A raster canvas starts white (savePNG): painting each panel's white
	// background over it again is a third of drawing the panel, and
	// changes no pixel. An SVG has no background but the panels'.
	_, white := dc.Canvas.(*vgimg.Canvas)
	for i := range grid {
		p, c := grid[i][0], canvases[i][0]
		legend, background := p.Legend, p.BackgroundColor
		p.Legend = plot.NewLegend()
		if white && background == color.White {
			p.BackgroundColor = nil
		}
		p.Draw(draw.Crop(c, 0, -legendStrip, 0, 0))
		p.Legend, p.BackgroundColor = legend, background
		legend.Top, legend.Left = true, true
		legend.TextStyle.Font.Size = vg.Points(9)
		legend.Draw(draw.Crop(c, c.Max.X-c.Min.X-legendStrip+vg.Points(6), 0, 0, -vg.Points(18)))
	}
}

// timeTicks labels the time axis every 1, 2, 5, 10, 15 or 30 seconds,
// or 1, 2, 5, 10, 15 or 30 minutes: the first that needs at most twelve
// labels. Minor ticks fall between.
type timeTicks struct{}

func (timeTicks) Ticks(lo, hi float64) []plot.Tick {
	step := 3600.0
	for _, s := range []float64{1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800} {
		if (hi-lo)/s <= 12 {
			step = s
			break
		}
	}
	var ticks []plot.Tick
	minor := step / 5
	for i := math.Ceil(lo / minor); i*minor <= hi; i++ {
		x := i * minor
		t := plot.Tick{Value: x}
		if math.Mod(x, step) == 0 {
			t.Label = fmt.Sprintf("%g", x)
		}
		ticks = append(ticks, t)
	}
	return ticks
}

// plainTicks labels an axis's ticks as plainly as their values allow
// (5000, not 5000.00; 0.25 stays 0.25), and with upTo set leaves out
// ticks above it: a share axis goes to 1 and no further.
type plainTicks struct{ upTo float64 }

func (p plainTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for _, t := range (plot.DefaultTicks{}).Ticks(lo, hi) {
		if p.upTo > 0 && t.Value > p.upTo+1e-9 {
			continue
		}
		if t.Label != "" {
			t.Label = strconv.FormatFloat(math.Round(t.Value*1e6)/1e6, 'f', -1, 64)
		}
		ticks = append(ticks, t)
	}
	return ticks
}

// markSettle shades the settle period (faults healed, load stopped) in
// grey, labelled when labelled.
func markSettle(p *plot.Plot, r *runner.Result, ymax float64, labelled bool) {
	from, to := (r.Duration - r.Scenario.Settle).Seconds(), r.Duration.Seconds()
	if r.Scenario.Settle <= 0 || from >= to {
		return
	}
	band, err := plotter.NewPolygon(plotter.XYs{{X: from, Y: p.Y.Min}, {X: to, Y: p.Y.Min}, {X: to, Y: ymax}, {X: from, Y: ymax}})
	if err != nil {
		return
	}
	band.Color, band.LineStyle.Width = color.NRGBA{R: 120, G: 120, B: 120, A: 28}, 0
	p.Add(band)
	if labelled {
		y := p.Y.Min + (ymax-p.Y.Min)*0.97
		if _, logScale := p.Y.Scale.(plot.LogScale); logScale {
			y = ymax / 1.4
		}
		if l, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: from, Y: y}}, Labels: []string{" settle: faults healed, load stopped"}}); err == nil {
			l.TextStyle[0].Font.Size = vg.Points(8)
			p.Add(l)
		}
	}
}

// newPanel is a panel over the run's time axis.
func newPanel(r *runner.Result, title, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "simulated time (s)"
	p.Y.Label.Text = ylabel
	p.X.Min, p.X.Max = 0, r.Duration.Seconds()
	p.X.Tick.Marker = timeTicks{}
	p.Add(plotter.NewGrid())
	return p
}

// faultColours tints fault windows by kind.
var faultColours = map[scenarios.FaultKind]color.NRGBA{
	scenarios.Crash:     {R: 230, G: 80, B: 80, A: 60},
	scenarios.PowerLoss: {R: 160, G: 40, B: 160, A: 60},
	scenarios.Stop:      {R: 230, G: 150, B: 150, A: 45},
	scenarios.Pause:     {R: 240, G: 170, B: 40, A: 70},
	scenarios.Partition: {R: 70, G: 120, B: 230, A: 55},
	scenarios.Isolate:   {R: 70, G: 120, B: 230, A: 55},
	scenarios.OneWay:    {R: 70, G: 170, B: 230, A: 55},
	scenarios.SlowLink:  {R: 60, G: 170, B: 120, A: 60},
	scenarios.Loss:      {R: 120, G: 120, B: 120, A: 55},
}

// shadeFaults draws every fault window as a tinted band up to ymax, with
// its label at the top when labelled; instant faults (restarts, heals,
// elections by an operator) as a thin vertical line. It is added first so
// that the data draws over it.
func shadeFaults(p *plot.Plot, r *runner.Result, ymax float64, labelled bool) {
	lo := p.Y.Min
	var labels plotter.XYLabels
	for i, f := range r.Faults {
		from, to := f.At.Seconds(), f.Until.Seconds()
		if f.Window() {
			band, err := plotter.NewPolygon(plotter.XYs{{X: from, Y: lo}, {X: to, Y: lo}, {X: to, Y: ymax}, {X: from, Y: ymax}})
			if err != nil {
				continue
			}
			c, ok := faultColours[f.Kind]
			if !ok {
				c = color.NRGBA{R: 150, G: 150, B: 150, A: 50}
			}
			band.Color, band.LineStyle.Width = c, 0
			p.Add(band)
		} else {
			mark, err := plotter.NewLine(plotter.XYs{{X: from, Y: lo}, {X: from, Y: ymax}})
			if err != nil {
				continue
			}
			mark.Color, mark.Dashes = color.RGBA{R: 90, G: 90, B: 90, A: 255}, []vg.Length{vg.Points(1), vg.Points(3)}
			p.Add(mark)
		}
		if labelled {
			// Stagger labels of faults close together so they do not overlap.
			y := lo + (ymax-lo)*(0.97-0.07*float64(i%3))
			if _, logScale := p.Y.Scale.(plot.LogScale); logScale {
				y = ymax / math.Pow(2.2, float64(i%3)+0.3)
			}
			labels.XYs = append(labels.XYs, plotter.XY{X: from, Y: y})
			labels.Labels = append(labels.Labels, " "+f.Text)
		}
	}
	if len(labels.Labels) > 0 {
		if l, err := plotter.NewLabels(labels); err == nil {
			for i := range l.TextStyle {
				l.TextStyle[i].Font.Size = vg.Points(8)
			}
			p.Add(l)
		}
	}
}

// markLeaderChanges draws a faint vertical line at every election.
func markLeaderChanges(p *plot.Plot, r *runner.Result, ymax float64) {
	first := true
	for _, e := range r.Journal {
		if !e.Kind.Election() && e.Kind != journal.EvOffline {
			continue
		}
		x := e.Time.Since().Seconds()
		mark, err := plotter.NewLine(plotter.XYs{{X: x, Y: p.Y.Min}, {X: x, Y: ymax}})
		if err != nil {
			continue
		}
		mark.Color, mark.Dashes = color.RGBA{R: 20, G: 20, B: 20, A: 160}, []vg.Length{vg.Points(4), vg.Points(2)}
		p.Add(mark)
		if first {
			p.Legend.Add("leader change", mark)
			first = false
		}
	}
}

// markControllerChanges draws a dotted purple line wherever a controller
// of the quorum became the active one.
func markControllerChanges(p *plot.Plot, r *runner.Result, ymax float64) {
	markEvents(p, r, ymax, journal.EvControllerActive, "active controller change", color.RGBA{R: 120, G: 50, B: 160, A: 220})
}

// operations are the operators' actions the replication plot marks, each
// with its legend and colour.
var operations = []struct {
	kind   journal.EventKind
	legend string
	colour color.RGBA
}{
	{journal.EvControlledShutdown, "controlled shutdown", color.RGBA{R: 200, G: 120, B: 40, A: 220}},
	{journal.EvCleanStart, "clean restart", color.RGBA{R: 40, G: 150, B: 80, A: 220}},
	{journal.EvReassignStarted, "reassignment started", color.RGBA{R: 30, G: 110, B: 200, A: 220}},
	{journal.EvReassignCompleted, "reassignment completed", color.RGBA{R: 20, G: 60, B: 140, A: 220}},
}

// markOperations draws a dotted vertical line at every controlled
// shutdown, clean restart and reassignment step.
func markOperations(p *plot.Plot, r *runner.Result, ymax float64) {
	for _, op := range operations {
		markEvents(p, r, ymax, op.kind, op.legend, op.colour)
	}
}

// markEvents draws a dotted vertical line at every event of one kind,
// named once in the legend.
func markEvents(p *plot.Plot, r *runner.Result, ymax float64, kind journal.EventKind, legend string, colour color.RGBA) {
	first := true
	for _, e := range r.Journal {
		if e.Kind != kind {
			continue
		}
		x := e.Time.Since().Seconds()
		mark, err := plotter.NewLine(plotter.XYs{{X: x, Y: p.Y.Min}, {X: x, Y: ymax}})
		if err != nil {
			continue
		}
		mark.Color, mark.Width, mark.Dashes = colour, vg.Points(1.5), []vg.Length{vg.Points(1), vg.Points(2)}
		p.Add(mark)
		if first {
			p.Legend.Add(legend, mark)
			first = false
		}
	}
}

func line(xys plotter.XYs, c color.Color, step bool) *plotter.Line {
	l, err := plotter.NewLine(xys)
	if err != nil {
		panic(err) // only NaN or Inf reach here, which the callers never make
	}
	l.Color, l.Width = c, vg.Points(seriesLine)
	if step {
		l.StepStyle = plotter.PostStep
	}
	return l
}

var palette = []color.RGBA{
	{R: 31, G: 119, B: 180, A: 255}, {R: 255, G: 127, B: 14, A: 255}, {R: 44, G: 160, B: 44, A: 255},
	{R: 214, G: 39, B: 40, A: 255}, {R: 148, G: 103, B: 189, A: 255}, {R: 140, G: 86, B: 75, A: 255},
	{R: 227, G: 119, B: 194, A: 255}, {R: 127, G: 127, B: 127, A: 255},
}

func availabilityPanels(r *runner.Result) []*plot.Plot {
	buckets := r.Detail.Buckets
	step := r.Detail.Bucket.Seconds()
	acked, attempted := make(plotter.XYs, len(buckets)), make(plotter.XYs, len(buckets))
	peak := 1.0
	for i, b := range buckets {
		x := b.Start.Seconds()
		acked[i] = plotter.XY{X: x, Y: float64(b.Acked) / step}
		attempted[i] = plotter.XY{X: x, Y: float64(b.Attempts) / step}
		peak = max(peak, acked[i].Y, attempted[i].Y)
	}
	top := newPanel(r, fmt.Sprintf("%s (seed %d): produce throughput", r.Scenario.Name, r.Seed), "writes per second")
	top.Y.Min, top.Y.Max = 0, peak*headroom
	top.Y.Tick.Marker = plainTicks{}
	markSettle(top, r, top.Y.Max, true)
	shadeFaults(top, r, top.Y.Max, true)
	markLeaderChanges(top, r, top.Y.Max)
	markControllerChanges(top, r, top.Y.Max)
	att, ack := line(attempted, palette[7], true), line(acked, palette[0], true)
	att.Dashes = []vg.Length{vg.Points(3), vg.Points(2)}
	top.Add(att, ack)
	top.Legend.Add("attempted", att)
	top.Legend.Add("acknowledged", ack)

	deadline := r.Detail.Deadline.Round(time.Millisecond)
	parts := r.Detail.Partitions
	title := fmt.Sprintf("availability: share of each second's writes acknowledged within %v (overall %.4f)", deadline, r.Availability)
	if len(parts) > maxLines {
		// A line a partition is unreadable past a dozen: the least
		// available ones, which are what the picture is for.
		parts = slices.Clone(parts)
		slices.SortStableFunc(parts, func(a, b check.PartitionAvailability) int { return cmp.Compare(a.Available, b.Available) })
		parts = parts[:maxLines]
		title += fmt.Sprintf("; the %d least available of %d partitions", maxLines, len(r.Detail.Partitions))
	}
	bottom := newPanel(r, title, "share")
	// A share stays a share: 0 to 1, a little room above for the lines.
	bottom.Y.Min, bottom.Y.Max = 0, 1.05
	bottom.Y.Tick.Marker = plainTicks{upTo: 1}
	markSettle(bottom, r, bottom.Y.Max, false)
	shadeFaults(bottom, r, bottom.Y.Max, false)
	markLeaderChanges(bottom, r, bottom.Y.Max)
	for i, pa := range parts {
		xys := make(plotter.XYs, len(pa.PerBucket))
		for j, v := range pa.PerBucket {
			xys[j] = plotter.XY{X: buckets[j].Start.Seconds(), Y: v}
		}
		// Lines at their true values: where partitions agree they lie on
		// one another, told apart by width and dashes (the first widest
		// and solid, each next narrower with longer dashes).
		l := line(xys, palette[i%len(palette)], true)
		l.Width = vg.Points(max(0.75, 2.5-0.5*float64(i)))
		if i > 0 {
			l.Dashes = []vg.Length{vg.Points(float64(2 + 2*i)), vg.Points(2)}
		}
		bottom.Add(l)
		bottom.Legend.Add(fmt.Sprintf("%v %.3f", pa.TP, pa.Available), l)
	}
	if len(r.Groups) == 0 {
		return []*plot.Plot{top, bottom}
	}
	return []*plot.Plot{top, bottom, lagPanel(r)}
}

// lagPanel is each consumer group's lag over time: the largest, over its
// partitions, of log end − committed offset (Kafka's records-lag-max
// measured against commits), with the groups' rebalances marked.
func lagPanel(r *runner.Result) *plot.Plot {
	p := newPanel(r, "consumer lag: the largest log end - committed offset of any partition, per group", "records")
	peak := 1.0
	for _, g := range r.Groups {
		peak = max(peak, float64(g.MaxLag))
	}
	p.Y.Min, p.Y.Max = 0, peak*headroom
	p.Y.Tick.Marker = plainTicks{}
	markSettle(p, r, p.Y.Max, false)
	shadeFaults(p, r, p.Y.Max, false)
	markEvents(p, r, p.Y.Max, journal.EvGroupRebalance, "rebalance starts", palette[4])
	for i, g := range r.Groups {
		xys := make(plotter.XYs, len(g.Lag))
		for j, s := range g.Lag {
			xys[j] = plotter.XY{X: s.Time.Since().Seconds(), Y: float64(s.Lag)}
		}
		l := line(xys, palette[i%len(palette)], true)
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("%s (max %d)", g.Group, g.MaxLag), l)
	}
	return p
}

// maxLatencyPoints bounds the writes of each outcome the latency scatter
// draws: a long run's millions would make an image of ink, and each point
// costs drawing time twice (PNG and SVG). Beyond it every k-th is drawn,
// and the title says so.
const maxLatencyPoints = 6000

// latencies are a run's writes as the latency plot shows them: each a point
// at the time it was sent, as high as it took, by outcome; and the
// acknowledged ones' latencies (sorted) by the second they were sent.
type latencies struct {
	ok, failed, unknown []latencyPoint
	perSecond           [][]float64
	// stages sums, by the second writes were sent, the time acknowledged
	// writes spent blocked in send(), in the accumulator, and from their
	// batch's first send to the acknowledgement (the wire, the broker and
	// any retries).
	stages [][3]time.Duration
}

type latencyPoint struct{ at, ms float64 }

// measureLatencies reads the history once for both of the latency plot's
// pictures (PNG and SVG).
func measureLatencies(r *runner.Result) *latencies {
	var invoked journal.PayloadTable[clock.Time]
	var done journal.PayloadTable[bool]
	l := &latencies{perSecond: make([][]float64, len(r.Detail.Buckets)), stages: make([][3]time.Duration, len(r.Detail.Buckets))}
	n, step := len(r.Detail.Buckets), r.Detail.Bucket
	ms := func(d time.Duration) float64 { return max(float64(d)/float64(time.Millisecond), 0.01) }
	for _, op := range r.History.All() {
		if op.F != journal.OpSend {
			continue
		}
		if op.Type == journal.Invoke {
			invoked.Set(op.Payload, op.Time)
			continue
		}
		at, _ := invoked.Get(op.Payload)
		done.Set(op.Payload, true)
		pt := latencyPoint{at.Since().Seconds(), ms(op.Time.Sub(at))}
		switch op.Type {
		case journal.Ok:
			l.ok = append(l.ok, pt)
			i := min(n-1, int(at.Since()/step))
			l.perSecond[i] = append(l.perSecond[i], pt.ms)
			queued, sent := at, op.Start
			if op.Queued != 0 {
				queued = op.Queued
			}
			if sent == 0 {
				sent = queued
			}
			l.stages[i][0] += queued.Sub(at)
			l.stages[i][1] += sent.Sub(queued)
			l.stages[i][2] += op.Time.Sub(sent)
		case journal.Fail:
			l.failed = append(l.failed, pt)
		default:
			l.unknown = append(l.unknown, pt)
		}
	}
	end := clock.At(r.Duration)
	for _, op := range r.History.All() {
		if op.F == journal.OpSend && op.Type == journal.Invoke {
			if finished, _ := done.Get(op.Payload); !finished {
				l.unknown = append(l.unknown, latencyPoint{op.Time.Since().Seconds(), ms(end.Sub(op.Time))})
			}
		}
	}
	for _, samples := range l.perSecond {
		slices.Sort(samples)
	}
	return l
}

// panels plots latency as Jepsen does: every write a point at the time it
// was sent, as high as it took to be acknowledged (or to fail, or, unknown,
// to be given up or reach the end of the run), coloured by outcome, so that
// an outage stands as a wall of points; and below, p50, p99 and max of the
// acknowledged writes sent in each second.
func (l *latencies) panels(r *runner.Result) []*plot.Plot {
	ok, failed, unknown, perSecond, step := l.ok, l.failed, l.unknown, l.perSecond, r.Detail.Bucket
	stride := func(n int) int { return max(1, (n+maxLatencyPoints-1)/maxLatencyPoints) }
	every := stride(len(ok))
	title := "latency of every write, at the time it was sent"
	if every > 1 || stride(len(failed)) > 1 || stride(len(unknown)) > 1 {
		title = fmt.Sprintf("latency of writes at the time they were sent (every %d%s acknowledged write shown", every, ordinal(every))
		if n := max(stride(len(failed)), stride(len(unknown))); n > 1 {
			title += fmt.Sprintf(", every %d%s failed or unknown one", n, ordinal(n))
		}
		title += ")"
	}
	scatter := newPanel(r, title, "latency (ms, log scale)")
	scatter.Y.Scale, scatter.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	hi := 1.0
	for _, pts := range [][]latencyPoint{ok, failed, unknown} {
		for _, p := range pts {
			hi = max(hi, p.ms)
		}
	}
	scatter.Y.Min, scatter.Y.Max = 0.1, hi*3
	markSettle(scatter, r, scatter.Y.Max, true)
	shadeFaults(scatter, r, scatter.Y.Max, true)
	for _, s := range []struct {
		name  string
		pts   []latencyPoint
		every int
		c     color.RGBA
	}{{"acknowledged", ok, every, palette[0]}, {"failed", failed, stride(len(failed)), palette[3]}, {"unknown", unknown, stride(len(unknown)), palette[1]}} {
		var xys plotter.XYs
		for i := 0; i < len(s.pts); i += s.every {
			xys = append(xys, plotter.XY{X: s.pts[i].at, Y: s.pts[i].ms})
		}
		if len(xys) == 0 {
			continue
		}
		sc, err := plotter.NewScatter(xys)
		if err != nil {
			continue
		}
		sc.GlyphStyle.Color, sc.GlyphStyle.Radius, sc.GlyphStyle.Shape = s.c, vg.Points(1.2), draw.BoxGlyph{}
		scatter.Add(&boxScatter{Scatter: sc})
		scatter.Legend.Add(fmt.Sprintf("%s (%d)", s.name, len(s.pts)), sc)
	}

	pct := newPanel(r, "acknowledged writes' latency by the second they were sent", "latency (ms, log scale)")
	pct.Y.Scale, pct.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	var p50, p99, pmax plotter.XYs
	top := 1.0
	for i, samples := range perSecond {
		if len(samples) == 0 {
			continue
		}
		x := float64(i) * step.Seconds()
		p50 = append(p50, plotter.XY{X: x, Y: Percentile(samples, 0.50)})
		p99 = append(p99, plotter.XY{X: x, Y: Percentile(samples, 0.99)})
		pmax = append(pmax, plotter.XY{X: x, Y: samples[len(samples)-1]})
		top = max(top, samples[len(samples)-1])
	}
	pct.Y.Min, pct.Y.Max = 0.1, top*3
	markSettle(pct, r, pct.Y.Max, false)
	shadeFaults(pct, r, pct.Y.Max, false)
	markLeaderChanges(pct, r, pct.Y.Max)
	for j, s := range []struct {
		name string
		xys  plotter.XYs
	}{{"p50", p50}, {"p99", p99}, {"max", pmax}} {
		if len(s.xys) == 0 {
			continue
		}
		l := line(s.xys, palette[j], true)
		pct.Add(l)
		pct.Legend.Add(s.name, l)
	}
	return []*plot.Plot{scatter, pct, l.stagePanel(r)}
}

// stagePanel splits acknowledged writes' latency into where it was spent,
// the mean of each second's writes: blocked in send() for buffer memory,
// waiting in the accumulator (linger.ms, a full connection, a retry's
// backoff before the first send), and from the first send to the answer.
func (l *latencies) stagePanel(r *runner.Result) *plot.Plot {
	p := newPanel(r, "where acknowledged writes waited: mean by the second they were sent", "latency (ms, log scale)")
	p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	var lines [3]plotter.XYs
	top := 1.0
	for i, st := range l.stages {
		n := len(l.perSecond[i])
		if n == 0 {
			continue
		}
		x := float64(i) * r.Detail.Bucket.Seconds()
		for k, d := range st {
			ms := max(float64(d)/float64(time.Millisecond)/float64(n), 0.01)
			lines[k] = append(lines[k], plotter.XY{X: x, Y: ms})
			top = max(top, ms)
		}
	}
	p.Y.Min, p.Y.Max = 0.01, top*3
	markSettle(p, r, p.Y.Max, false)
	shadeFaults(p, r, p.Y.Max, false)
	for k, name := range []string{"blocked in send()", "in the accumulator", "sent to acknowledged"} {
		if len(lines[k]) == 0 {
			continue
		}
		ln := line(lines[k], palette[[3]int{3, 1, 0}[k]], true)
		p.Add(ln)
		p.Legend.Add(name, ln)
	}
	return p
}

// boxScatter is a scatter of square glyphs drawn a few dozen to a filled
// path, not a path a point: the same squares (where two overlap, their
// edges blend as one shape's), with a rasterization (an SVG element) for
// dozens rather than each. It gives gonum, which pads the axes so that no
// point's glyph is clipped, only the glyph boxes that can decide the
// padding: of the points gonum counts (those within both axes), the left-,
// right-, bottom- and top-most. Every point's box is the same size, so the
// padding is the same as all of them give. gonum asks for them over and
// over while it lays out one picture; they are worked out once for the
// axes they were asked for.
type boxScatter struct {
	*plotter.Scatter
	axes  [4]float64 // X.Min, X.Max, Y.Min, Y.Max the edges were found for
	edges []plot.GlyphBox
	found bool
}

// Plot draws every point inside the canvas, as Scatter does, each a
// square as draw.BoxGlyph draws it.
func (s *boxScatter) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	// A square's half side, as draw.BoxGlyph has it.
	const cos45 = vg.Length(.707106781202420)
	r := (s.GlyphStyle.Radius-s.GlyphStyle.Radius*cos45)/2 + s.GlyphStyle.Radius*cos45
	c.SetColor(s.GlyphStyle.Color)
	var squares vg.Path
	n := 0
	for _, xy := range s.XYs {
		pt := vg.Point{X: trX(xy.X), Y: trY(xy.Y)}
		if !c.Contains(pt) {
			continue
		}
		squares.Move(vg.Point{X: pt.X - r, Y: pt.Y - r})
		squares.Line(vg.Point{X: pt.X + r, Y: pt.Y - r})
		squares.Line(vg.Point{X: pt.X + r, Y: pt.Y + r})
		squares.Line(vg.Point{X: pt.X - r, Y: pt.Y + r})
		squares.Close()
		if n++; n == squaresAPath {
			c.Fill(squares)
			squares, n = squares[:0], 0
		}
	}
	if n > 0 {
		c.Fill(squares)
	}
}

// squaresAPath is how many squares boxScatter fills at once: every fill
// sets up a rasterizer, and freetype's rasterizer slows as a path grows.
// Of 8, 32, 128, 512 and all, 32 was fastest: leader-crash's latency PNG
// drew in 7 ms, where a fill a square took 11 and one fill for all 32.
const squaresAPath = 32

func (s *boxScatter) GlyphBoxes(p *plot.Plot) []plot.GlyphBox {
	if axes := [4]float64{p.X.Min, p.X.Max, p.Y.Min, p.Y.Max}; !s.found || axes != s.axes {
		s.axes, s.edges, s.found = axes, s.findEdges(p), true
	}
	return s.edges
}

func (s *boxScatter) findEdges(p *plot.Plot) []plot.GlyphBox {
	r := s.GlyphStyle.Radius
	var edges [4]plot.GlyphBox // left, right, bottom, top
	found := false
	for _, xy := range s.XYs {
		b := plot.GlyphBox{X: p.X.Norm(xy.X), Y: p.Y.Norm(xy.Y), Rectangle: vg.Rectangle{Min: vg.Point{X: -r, Y: -r}, Max: vg.Point{X: r, Y: r}}}
		if !(b.X >= 0 && b.X <= 1 && b.Y >= 0 && b.Y <= 1) {
			continue
		}
		if !found {
			edges, found = [4]plot.GlyphBox{b, b, b, b}, true
			continue
		}
		if b.X < edges[0].X {
			edges[0] = b
		}
		if b.X > edges[1].X {
			edges[1] = b
		}
		if b.Y < edges[2].Y {
			edges[2] = b
		}
		if b.Y > edges[3].Y {
			edges[3] = b
		}
	}
	if !found {
		return nil
	}
	return edges[:]
}

func ordinal(n int) string {
	switch {
	case n%100 >= 11 && n%100 <= 13:
		return "th"
	case n%10 == 1:
		return "st"
	case n%10 == 2:
		return "nd"
	case n%10 == 3:
		return "rd"
	}
	return "th"
}

// Percentile is the q-quantile of sorted values by nearest rank; NaN for
// none.
func Percentile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// replicationPanels plots, per partition, the ISR size and the leader's
// broker over time, and the number of under-replicated partitions.
func replicationPanels(r *runner.Result) []*plot.Plot {
	end := r.Duration.Seconds()
	type state struct {
		isr, elr, leader plotter.XYs
		replicas         int
	}
	var tps []protocol.TopicPartition
	states := map[protocol.TopicPartition]*state{}
	for _, f := range r.Final {
		tps = append(tps, f.TP)
		n := len(f.State.Replicas)
		states[f.TP] = &state{replicas: n, isr: plotter.XYs{{X: 0, Y: float64(n)}}, elr: plotter.XYs{{X: 0, Y: 0}}, leader: plotter.XYs{{X: 0, Y: float64(f.State.Replicas[0])}}}
	}
	type change struct {
		at    float64
		tp    protocol.TopicPartition
		under bool
	}
	var changes []change
	for _, e := range r.Journal {
		s := states[e.TP]
		if s == nil || e.ISR == nil {
			continue
		}
		x := e.Time.Since().Seconds()
		s.isr = append(s.isr, plotter.XY{X: x, Y: float64(len(e.ISR))})
		s.elr = append(s.elr, plotter.XY{X: x, Y: float64(len(e.ELR))})
		s.leader = append(s.leader, plotter.XY{X: x, Y: float64(e.Leader)})
		changes = append(changes, change{x, e.TP, len(e.ISR) < s.replicas})
	}
	elr := r.Scenario.Cluster.Broker.ELR
	title := "ISR size per partition"
	if elr {
		title = "ISR size (solid) and eligible leader replicas (dashed, KIP-966) per partition"
	}
	leaderTitle := "leader per partition (-1: none)"
	all := len(tps)
	if all > maxLines {
		// A line a partition is unreadable past a dozen: those whose ISR
		// or leader changed most, in partition order.
		byChanges := slices.Clone(tps)
		slices.SortStableFunc(byChanges, func(a, b protocol.TopicPartition) int { return cmp.Compare(len(states[b].isr), len(states[a].isr)) })
		tps = byChanges[:maxLines]
		slices.SortFunc(tps, protocol.TopicPartition.Compare)
		shown := fmt.Sprintf("; the %d of %d partitions that changed most", maxLines, all)
		title += shown
		leaderTitle += shown
	}
	isrPanel := newPanel(r, title, "replicas")
	leaderPanel := newPanel(r, leaderTitle, "leader broker")
	underPanel := newPanel(r, "under-replicated partitions", "partitions")
	maxRF := 1
	for _, s := range states {
		maxRF = max(maxRF, s.replicas)
		for _, xy := range s.isr { // a reassignment's ISR holds the old and the new replicas
			maxRF = max(maxRF, int(xy.Y))
		}
	}
	isrPanel.Y.Min, isrPanel.Y.Max = 0, float64(maxRF)*headroom+0.5
	leaderPanel.Y.Min, leaderPanel.Y.Max = -1.5, float64(r.Scenario.Cluster.Brokers)*headroom+0.5
	underPanel.Y.Min, underPanel.Y.Max = 0, float64(all)*headroom+0.5
	markSettle(isrPanel, r, isrPanel.Y.Max, true)
	markControllerChanges(leaderPanel, r, leaderPanel.Y.Max)
	markOperations(isrPanel, r, isrPanel.Y.Max)
	markSettle(leaderPanel, r, leaderPanel.Y.Max, false)
	markSettle(underPanel, r, underPanel.Y.Max, false)
	shadeFaults(isrPanel, r, isrPanel.Y.Max, true)
	shadeFaults(leaderPanel, r, leaderPanel.Y.Max, false)
	shadeFaults(underPanel, r, underPanel.Y.Max, false)
	for i, tp := range tps {
		s := states[tp]
		s.isr = append(s.isr, plotter.XY{X: end, Y: s.isr[len(s.isr)-1].Y})
		s.leader = append(s.leader, plotter.XY{X: end, Y: s.leader[len(s.leader)-1].Y})
		c := palette[i%len(palette)]
		// Offset each partition's line a little so that equal values stay
		// distinguishable.
		off := 0.04 * float64(i)
		isr := line(shift(s.isr, off), c, true)
		isrPanel.Add(isr)
		isrPanel.Legend.Add(tp.String(), isr)
		if elr {
			s.elr = append(s.elr, plotter.XY{X: end, Y: s.elr[len(s.elr)-1].Y})
			e := line(shift(s.elr, off), c, true)
			e.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			isrPanel.Add(e)
		}
		leader := line(shift(s.leader, off), c, true)
		leaderPanel.Add(leader)
		leaderPanel.Legend.Add(tp.String(), leader)
	}
	under := map[protocol.TopicPartition]bool{} // looked up, never iterated
	count := plotter.XYs{{X: 0, Y: 0}}
	n := 0
	for _, ch := range changes {
		switch was := under[ch.tp]; {
		case ch.under && !was:
			n++
		case !ch.under && was:
			n--
		}
		under[ch.tp] = ch.under
		count = append(count, plotter.XY{X: ch.at, Y: float64(n)})
	}
	count = append(count, plotter.XY{X: end, Y: count[len(count)-1].Y})
	u := line(count, palette[3], true)
	underPanel.Add(u)
	underPanel.Legend.Add("under-replicated", u)
	return []*plot.Plot{isrPanel, leaderPanel, underPanel}
}

func shift(xys plotter.XYs, dy float64) plotter.XYs {
	out := make(plotter.XYs, len(xys))
	for i, p := range xys {
		out[i] = plotter.XY{X: p.X, Y: p.Y + dy}
	}
	return out
}
