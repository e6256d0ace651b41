package sweep

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/tideline-sim/tideline/internal/inputfile"
	"github.com/tideline-sim/tideline/runner"
	"github.com/tideline-sim/tideline/scenarios"
)

// Job is one run of a sweep: a cell and a seed.
type Job struct {
	Cell Cell
	Seed uint64
}

// Jobs lists shard k of n of the sweep's runs: every n-th (cell, seed)
// pair from the k-th, cells in order and seeds 1..Seeds within each.
func (g *Grid) Jobs(k, n int) []Job {
	var jobs []Job
	i := 0
	for _, c := range g.Cells() {
		for seed := uint64(1); seed <= uint64(g.Seeds); seed++ {
			if i%n == k-1 {
				jobs = append(jobs, Job{c, seed})
			}
			i++
		}
	}
	return jobs
}

// RunAll runs the jobs on up to workers worlds at once and returns their
// numbers in job order; done, if set, hears of each as it finishes. A
// verdict never depends on which worker ran what.
func RunAll(g *Grid, jobs []Job, workers int, done func()) []Run {
	runs := make([]Run, len(jobs))
	runner.Parallel(len(jobs), workers, func(i int) {
		runs[i] = g.run(jobs[i])
	}, func(int) {
		if done != nil {
			done()
		}
	})
	return runs
}

func (g *Grid) run(j Job) Run {
	r := Run{Cell: j.Cell.Index, Seed: j.Seed}
	sc, err := g.Scenario(j.Cell, j.Seed)
	if err != nil {
		// The combination, not one value, is invalid (Validate saw to
		// that): say why, without the composed file's line and column.
		var se *scenarios.Error
		if errors.As(err, &se) {
			err = se.Err
		}
		r.Skipped = err.Error()
		return r
	}
	if err := runner.CheckCost(sc, 0, 0, 0); err != nil {
		r.Skipped = err.Error()
		return r
	}
	res, err := runner.Run(sc, runner.Options{Seed: j.Seed})
	if err != nil {
		r.Error = err.Error()
		return r
	}
	return Measure(j.Cell.Index, j.Seed, res)
}

// File is one shard's runs, as -json writes them and merge reads them
// back. It carries the grid (the base scenario's text, the axes, the
// seeds), so merge needs nothing else to write the report.
type File struct {
	Format   string `json:"format"`
	Shard    string `json:"shard"`
	Base     string `json:"base"`
	BaseText string `json:"base_text"`
	Axes     []Axis `json:"axes"`
	Seeds    int    `json:"seeds"`
	Runs     []Run  `json:"runs"`
}

// FileFormat names the format of File.
const FileFormat = "tideline-sweep/1"

// NewFile is shard k/n's file.
func NewFile(g *Grid, shard string, runs []Run) File {
	return File{Format: FileFormat, Shard: shard, Base: g.Base.Name, BaseText: string(g.Base.Text), Axes: g.Axes, Seeds: g.Seeds, Runs: runs}
}

// Grid rebuilds the grid a file was run on.
func (f File) Grid() (*Grid, error) {
	base, err := scenarios.Load(f.Base, []byte(f.BaseText))
	if err != nil {
		return nil, err
	}
	return &Grid{Base: base, Axes: f.Axes, Seeds: f.Seeds}, nil
}

// SameGrid reports whether two files ran the same sweep.
func (f File) SameGrid(o File) bool {
	return f.Base == o.Base && f.BaseText == o.BaseText && f.Seeds == o.Seeds &&
		slices.EqualFunc(f.Axes, o.Axes, func(a, b Axis) bool { return a.Property == b.Property && slices.Equal(a.Values, b.Values) })
}

// ReadFile reads a sweep -json file.
func ReadFile(path string) (File, error) {
	data, err := inputfile.Read(path, 512<<20)
	if err != nil {
		return File{}, err
	}
	var f File
	if err := json.Unmarshal(data, &f); err != nil {
		return File{}, fmt.Errorf("%s: not a sweep -json file: %v", path, err)
	}
	if f.Format != FileFormat {
		return File{}, fmt.Errorf("%s: not a sweep -json file (format %q, want %q)", path, f.Format, FileFormat)
	}
	return f, nil
}
