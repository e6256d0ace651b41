package report

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/tideline-sim/tideline/internal/atomicfile"
	"github.com/tideline-sim/tideline/runner"
	"github.com/tideline-sim/tideline/sim"
)

// Artefact file names in an output folder.
const (
	SummaryFile  = "summary.json"
	TraceFile    = "run.trace"
	PerfettoFile = "run.perfetto-trace"
	ReportFile   = "report.md"
)

// Prepare readies dir for a run's artefacts before the run starts: it
// creates it, proves it can be written, and removes what an earlier run
// left that this one might not overwrite (a trace when this run writes
// none, an old visualisation), so that every file in it is of this run.
func Prepare(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	probe := filepath.Join(dir, ".tideline-write-probe")
	if err := atomicfile.Write(probe, nil); err != nil {
		return fmt.Errorf("%s is not writable: %w", dir, err)
	}
	stale := []string{filepath.Base(probe), SummaryFile, TraceFile, PerfettoFile, ReportFile, "run.perfetto.json" /* written by earlier versions */}
	for _, p := range append(slices.Clone(PlotNames), CompareFile) {
		stale = append(stale, p+".png", p+".svg")
	}
	old, _ := filepath.Glob(filepath.Join(dir, "linearizable-*.html")) // written by earlier versions
	for _, name := range stale {
		old = append(old, filepath.Join(dir, name))
	}
	// Temporaries of an earlier run that was killed before it could
	// remove them (.run.trace.123.tmp and the like).
	for _, name := range append(slices.Clone(stale), "*.png", "*.svg") {
		left, _ := filepath.Glob(filepath.Join(dir, "."+name+".*.tmp"))
		old = append(old, left...)
	}
	for _, path := range old {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// Out is a run's output folder. With a trace, the trace and the Perfetto
// trace are streamed there while the run goes (Options), so neither is ever
// held in memory; Finish writes the rest and puts every file in place.
type Out struct {
	dir      string
	trace    *atomicfile.File
	perfetto *atomicfile.File
	render   *Perfetto
	// The run hands its trace entries to a pipe; they are formatted and
	// written, as trace lines and as Perfetto events, on the pipe's
	// goroutine while the run goes on.
	traceBuf *bufio.Writer
	entries  *pipe[sim.TraceEntry]
	line     []byte // the trace line being written, on the pipe's goroutine
	// The plots need the run, not its verdicts: they are drawn on
	// goroutines of their own while the checkers run (Options).
	plotting chan error
}

// Open starts an output folder, dir, which Prepare readied.
func Open(dir string, traced bool) (*Out, error) {
	o := &Out{dir: dir}
	if !traced {
		return o, nil
	}
	var err error
	if o.trace, err = atomicfile.Create(filepath.Join(dir, TraceFile)); err != nil {
		return nil, err
	}
	if o.perfetto, err = atomicfile.Create(filepath.Join(dir, PerfettoFile)); err != nil {
		o.trace.Abort()
		return nil, err
	}
	o.render = NewPerfetto(o.perfetto)
	o.traceBuf = bufio.NewWriterSize(o.trace, 256<<10)
	o.entries = startPipe(1024, o.write)
	return o, nil
}

// Header writes the trace's first line (runner.TraceSink).
func (o *Out) Header(h sim.TraceHeader) error { return sim.WriteTraceHeader(o.traceBuf, h) }

// Entry queues an entry of the run's trace (runner.TraceSink).
func (o *Out) Entry(e sim.TraceEntry) { o.entries.add(e) }

// write writes a batch of entries as trace lines and their messages as
// Perfetto events; write errors surface when the buffer is flushed.
func (o *Out) write(batch []sim.TraceEntry) {
	for i := range batch {
		e := &batch[i]
		o.line = e.AppendJSON(o.line[:0])
		_, _ = o.traceBuf.Write(o.line)
		if e.Kind == "deliver" || e.Kind == "drop" {
			o.render.Message(e)
		}
	}
}

// Options has a run stream its trace and messages to the folder, and
// start the plots once it is measured.
func (o *Out) Options(opts *runner.Options) {
	if o.trace != nil {
		opts.Trace = o
	}
	opts.Measured = o.startPlots
}

func (o *Out) startPlots(r *runner.Result) {
	o.plotting = make(chan error, 1)
	go func() { o.plotting <- WritePlots(o.dir, r) }()
}

// plots waits for the plots started while the run was checked, or draws
// them now for a run that did not start them.
func (o *Out) plots(r *runner.Result) error {
	if o.plotting == nil {
		return WritePlots(o.dir, r)
	}
	err := <-o.plotting
	o.plotting = nil
	return err
}

// Abort drops what was streamed and not finished, and waits for plots
// still being drawn.
func (o *Out) Abort() {
	if o.plotting != nil {
		<-o.plotting
		o.plotting = nil
	}
	if o.trace != nil {
		o.drain()
		o.trace.Abort()
		o.perfetto.Abort()
	}
}

// drain waits until everything the run streamed is written.
func (o *Out) drain() error {
	o.entries.close()
	return o.traceBuf.Flush()
}

// Finish writes every artefact of the run: summary.json, the trace and the
// Perfetto trace (completed and put in place), the plots, and report.md
// linking them all.
func (o *Out) Finish(r *runner.Result, command string) error {
	defer o.Abort() // a no-op for what was committed
	var summary bytes.Buffer
	if err := JSON(&summary, r, command); err != nil {
		return fmt.Errorf("%s: %w", SummaryFile, err)
	}
	if err := atomicfile.Write(filepath.Join(o.dir, SummaryFile), summary.Bytes()); err != nil {
		return err
	}
	files := []string{SummaryFile}
	// The trace files are synced and put in place, and report.md
	// written, while the plots are (still) drawn: a sync waits for the
	// disk, not the processor.
	committed := make(chan error, 1)
	if o.trace != nil {
		if err := o.drain(); err != nil {
			return fmt.Errorf("%s: %w", TraceFile, err)
		}
		if err := o.render.Finish(r); err != nil {
			return fmt.Errorf("%s: %w", PerfettoFile, err)
		}
		go func() { committed <- errors.Join(o.trace.Commit(), o.perfetto.Commit()) }()
		files = append(files, TraceFile, PerfettoFile)
	} else {
		committed <- nil
	}
	for _, p := range PlotNames {
		files = append(files, p+".png", p+".svg")
	}
	var md bytes.Buffer
	rendered := Markdown(&md, r, command, files)
	if rendered != nil {
		rendered = fmt.Errorf("%s: %w", ReportFile, rendered)
	}
	// report.md goes in place last: it links every other file.
	if err := errors.Join(<-committed, o.plots(r), rendered); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(o.dir, ReportFile), md.Bytes())
}
