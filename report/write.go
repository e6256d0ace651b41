package report

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

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
		return os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644)
	}
	if err := write(SummaryFile, func(b *bytes.Buffer) error { return JSON(b, r, command) }); err != nil {
		return err
	}
	files := []string{SummaryFile}
	if len(trace) > 0 {
		if err := os.WriteFile(filepath.Join(dir, TraceFile), trace, 0o644); err != nil {
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
