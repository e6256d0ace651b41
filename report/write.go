package report

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tideline-sim/tideline/internal/atomicfile"
	"github.com/tideline-sim/tideline/runner"
	"github.com/tideline-sim/tideline/sim"
)

// Artefact file names in an output folder.
const (
	SummaryFile  = "summary.json"
	TraceFile    = "run.trace"
	PerfettoFile = "run.perfetto.json"
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
	stale := []string{filepath.Base(probe), SummaryFile, TraceFile, PerfettoFile, ReportFile}
	for _, p := range PlotNames {
		stale = append(stale, p+".png", p+".svg")
	}
	old, _ := filepath.Glob(filepath.Join(dir, "linearizable-*.html")) // written by earlier versions
	for _, name := range stale {
		old = append(old, filepath.Join(dir, name))
	}
	for _, path := range old {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// WriteAll writes every artefact of a run to dir: summary.json, the trace
// and its Perfetto rendering, the plots, and report.md linking them all.
// trace is the run's trace as written by sim (JSON Lines).
func WriteAll(dir string, r *runner.Result, command string, trace []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	write := func(name string, render func(*bytes.Buffer) error) error {
		var b bytes.Buffer
		if err := render(&b); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return atomicfile.Write(filepath.Join(dir, name), b.Bytes())
	}
	if err := write(SummaryFile, func(b *bytes.Buffer) error { return JSON(b, r, command) }); err != nil {
		return err
	}
	files := []string{SummaryFile}
	if len(trace) > 0 {
		if err := atomicfile.Write(filepath.Join(dir, TraceFile), trace); err != nil {
			return err
		}
		_, entries, err := sim.ReadTrace(bytes.NewReader(trace))
		if err != nil {
			return fmt.Errorf("reading back the trace: %w", err)
		}
		if err := write(PerfettoFile, func(b *bytes.Buffer) error { return Perfetto(b, r, entries) }); err != nil {
			return err
		}
		files = append(files, TraceFile, PerfettoFile)
	}
	if err := WritePlots(dir, r); err != nil {
		return err
	}
	for _, p := range PlotNames {
		files = append(files, p+".png", p+".svg")
	}
	return write(ReportFile, func(b *bytes.Buffer) error { return Markdown(b, r, command, files) })
}
