package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/tideline-sim/tideline/internal/atomicfile"
	"github.com/tideline-sim/tideline/internal/inputfile"
	"github.com/tideline-sim/tideline/report"
	"github.com/tideline-sim/tideline/runner"
	"github.com/tideline-sim/tideline/scenarios"
	"github.com/tideline-sim/tideline/sweep"
)

func runtimeWorkers() int { return runtime.NumCPU() }

// checkRun is one (scenario, seed) of a check, as written to -json and
// read back by merge.
type checkRun struct {
	Scenario  string   `json:"scenario"`
	Seed      uint64   `json:"seed"`
	OK        bool     `json:"ok"`
	Unmet     []string `json:"unmet,omitempty"` // expectations that did not hold
	TraceHash string   `json:"trace_hash"`
	Error     string   `json:"error,omitempty"`
}

// checkFile is one shard's results. Merge accepts only a complete set:
// every file of one format, scenarios and seeds, each shard k of n once,
// each with the runs its shard holds.
type checkFile struct {
	Format    string     `json:"format"`
	Shard     string     `json:"shard"`
	Seeds     int        `json:"seeds"`
	Scenarios []string   `json:"scenarios"`
	Inputs    string     `json:"inputs"` // hash of the scenario files: shards of other files do not mix
	Runs      []checkRun `json:"runs"`
}

const checkFormat = "tideline-check/1"

// shardSize is how many (scenario, seed) runs shard k of n holds.
func shardSize(k, n, pairs int) int {
	if k > pairs {
		return 0
	}
	return (pairs-k)/n + 1 // k-1, k-1+n, ... below pairs
}

// inputsHash fingerprints the scenario files a check ran.
func inputsHash(list []*scenarios.Scenario) string {
	h := fnv.New64a()
	for _, sc := range list {
		h.Write([]byte(sc.Name))
		h.Write(sc.Text)
		h.Write([]byte{0})
	}
	return fmt.Sprintf("%016x", h.Sum64())
}

// checkCommand runs every scenario's expect block over seeds 1..N — the
// CI gate. -shard k/n keeps every n-th (scenario, seed) pair starting at
// the k-th, so that n machines share the work; merge joins their -json.
func checkCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("simulate check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	seeds := fs.Int("seeds", 5, "seeds per scenario (1..N)")
	shard := fs.String("shard", "1/1", "run shard `k/n` of the (scenario, seed) pairs (default: from "+envShardIndex+" and "+envShardCount+" if set)")
	jsonOut := fs.String("json", "", "write the results to this `file` for merge")
	workers := fs.Int("workers", runtimeWorkers(), "worlds run in parallel")
	describe(fs, stderr, "simulate check [-seeds N] [-shard k/n] [-json FILE] [SCENARIO ...]",
		"Runs every scenario's expect block (default: every built-in but the soak) over\nseeds 1..N: the CI gate. -shard splits the runs across machines; merge joins\ntheir -json.")
	names, code, done := parseArgs(fs, args, -1, stderr)
	if done {
		return code
	}
	k, n, _, err := shardOf(*shard, flagGiven(fs, "shard"), os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "simulate check: %v\n", err)
		return exitUsage
	}
	if !checkCount(stderr, "simulate check", "seeds", *seeds, maxSeeds) || !checkCount(stderr, "simulate check", "workers", *workers, maxWorkers) {
		return exitUsage
	}
	if len(names) == 0 {
		names = runner.QuickBuiltins() // a soak runs when named
	}
	list, err := scenarios.OpenAll(names)
	if err != nil {
		fmt.Fprintf(stderr, "simulate check: %v\n", err)
		return exitUsage
	}
	for _, sc := range list {
		if err := runner.CheckCost(sc, 0, 0, 0); err != nil {
			fmt.Fprintf(stderr, "simulate check: %s: %v\n", sc.Source, err)
			return exitUsage
		}
	}
	type job struct {
		sc   *scenarios.Scenario
		seed uint64
	}
	var jobs []job
	i := 0
	for _, sc := range list {
		for seed := uint64(1); seed <= uint64(*seeds); seed++ {
			if i%n == k-1 {
				jobs = append(jobs, job{sc, seed})
			}
			i++
		}
	}
	if len(jobs) == 0 {
		fmt.Fprintf(stderr, "simulate check: shard %d/%d of %d runs holds none: use fewer shards\n", k, n, i)
		return exitUsage
	}
	runs := make([]checkRun, len(jobs))
	runner.Parallel(len(jobs), *workers, func(i int) {
		j := jobs[i]
		r := checkRun{Scenario: j.sc.Name, Seed: j.seed}
		res, err := runner.Run(j.sc, runner.Options{Seed: j.seed})
		if err != nil {
			r.Error = err.Error()
		} else {
			r.OK, r.TraceHash = res.OK(), fmt.Sprintf("%016x", res.TraceHash)
			for _, o := range res.Expectations {
				if !o.OK {
					r.Unmet = append(r.Unmet, fmt.Sprintf("%s: want %s, got %s", o.Name, o.Want, o.Got))
				}
			}
		}
		runs[i] = r
	}, nil)
	if *jsonOut != "" {
		var names []string
		for _, sc := range list {
			names = append(names, sc.Name)
		}
		f := checkFile{Format: checkFormat, Shard: fmt.Sprintf("%d/%d", k, n), Seeds: *seeds, Scenarios: names, Inputs: inputsHash(list), Runs: runs}
		data, _ := json.MarshalIndent(f, "", "  ")
		if err := atomicfile.Write(*jsonOut, append(data, '\n')); err != nil {
			fmt.Fprintf(stderr, "simulate check: %v\n", err)
			return exitUsage
		}
	}
	return checkReport(runs, fmt.Sprintf("shard %d/%d, seeds 1-%d", k, n, *seeds), stdout)
}

func mergeCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("simulate merge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "sweeps: write the merged sweep's report to `dir`")
	describe(fs, stderr, "simulate merge [-out DIR] SHARD.json ...",
		"Joins the -json files of every shard of one check, explore or sweep and\nverifies they form one complete set: the same scenarios, seeds and scenario\nfiles, each shard k of n exactly once with all its runs.")
	files, code, done := parseArgs(fs, args, -1, stderr)
	if done {
		return code
	}
	if len(files) == 0 {
		fs.Usage()
		return exitUsage
	}
	switch format, err := formatOf(files[0]); {
	case err != nil:
		fmt.Fprintf(stderr, "simulate merge: %v\n", err)
		return exitUsage
	case format == sweep.FileFormat:
		return mergeSweep(files, *out, stdout, stderr)
	case format == exploreFormat:
		return mergeExplore(files, stdout, stderr)
	}
	runs, what, err := mergeShards(files)
	if err != nil {
		fmt.Fprintf(stderr, "simulate merge: %v\n", err)
		return exitUsage
	}
	return checkReport(runs, what, stdout)
}

// maxJSONBytes bounds a -json shard file read by merge: a check of every
// built-in over a thousand seeds or an exploration of 100,000 seeds is a
// few tens of MB.
const maxJSONBytes = 512 << 20

// mergeShards reads shard files and verifies they are one complete set.
func mergeShards(files []string) ([]checkRun, string, error) {
	var first *checkFile
	var runs []checkRun
	var shards shardSet
	for _, path := range files {
		data, err := inputfile.Read(path, maxJSONBytes)
		if err != nil {
			return nil, "", err
		}
		var f checkFile
		if err := json.Unmarshal(data, &f); err != nil {
			return nil, "", fmt.Errorf("%s: not a check -json file: %v", path, err)
		}
		if f.Format != checkFormat {
			return nil, "", fmt.Errorf("%s: not a check -json file (format %q, want %q)", path, f.Format, checkFormat)
		}
		if first == nil {
			first = &f
		}
		if f.Seeds != first.Seeds || !slices.Equal(f.Scenarios, first.Scenarios) || f.Inputs != first.Inputs {
			return nil, "", fmt.Errorf("%s: ran other scenarios or seeds than %s", path, files[0])
		}
		k, err := shards.add(path, f.Shard)
		if err != nil {
			return nil, "", err
		}
		if want := shardSize(k, shards.n, len(f.Scenarios)*f.Seeds); len(f.Runs) != want || want == 0 {
			return nil, "", fmt.Errorf("%s: shard %s holds %d runs, want %d", path, f.Shard, len(f.Runs), want)
		}
		runs = append(runs, f.Runs...)
	}
	if err := shards.complete(); err != nil {
		return nil, "", err
	}
	return runs, fmt.Sprintf("merged %d shards", shards.n), nil
}

// checkReport prints one row per scenario and returns 1 if any expectation
// was unmet.
func checkReport(runs []checkRun, what string, stdout io.Writer) int {
	t := report.Table{Title: "check", Header: []string{"scenario", "seeds", "met", "unmet (seed: expectation)"}}
	var order []string
	by := map[string][]checkRun{}
	for _, r := range runs {
		if _, ok := by[r.Scenario]; !ok {
			order = append(order, r.Scenario)
		}
		by[r.Scenario] = append(by[r.Scenario], r)
	}
	failed := 0
	for _, name := range order {
		met := 0
		var unmet []string
		for _, r := range by[name] {
			switch {
			case r.Error != "":
				unmet = append(unmet, fmt.Sprintf("%d: error %s", r.Seed, r.Error))
			case r.OK:
				met++
			default:
				unmet = append(unmet, fmt.Sprintf("%d: %s", r.Seed, strings.Join(r.Unmet, "; ")))
			}
		}
		failed += len(unmet)
		t.Rows = append(t.Rows, []string{name, strconv.Itoa(len(by[name])), strconv.Itoa(met), strings.Join(unmet, " | ")})
	}
	fmt.Fprintf(stdout, "check: %d runs (%s)\n", len(runs), what)
	_ = t.Render(stdout)
	if failed > 0 {
		fmt.Fprintf(stdout, "FAIL: %d of %d runs did not meet their expectations\n", failed, len(runs))
		return exitFail
	}
	fmt.Fprintf(stdout, "PASS: all %d runs met their expectations\n", len(runs))
	return exitOK
}

func parseShard(s string) (k, n int, err error) {
	a, b, ok := strings.Cut(s, "/")
	if !ok {
		return 0, 0, fmt.Errorf("no /")
	}
	if k, err = strconv.Atoi(a); err != nil {
		return 0, 0, err
	}
	if n, err = strconv.Atoi(b); err != nil {
		return 0, 0, err
	}
	if k < 1 || n < 1 || k > n {
		return 0, 0, fmt.Errorf("out of range")
	}
	return k, n, nil
}

// formatOf reads the format a -json file names.
func formatOf(path string) (string, error) {
	data, err := inputfile.Read(path, maxJSONBytes)
	if err != nil {
		return "", err
	}
	var head struct {
		Format string `json:"format"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return "", fmt.Errorf("%s: not a -json file of check, explore or sweep: %v", path, err)
	}
	return head.Format, nil
}

// mergeSweep joins a sweep's shards, verifies them, and reports the sweep.
func mergeSweep(files []string, dir string, stdout, stderr io.Writer) int {
	var first sweep.File
	var runs []sweep.Run
	var shards shardSet
	for i, path := range files {
		f, err := sweep.ReadFile(path)
		if err != nil {
			fmt.Fprintf(stderr, "simulate merge: %v\n", err)
			return exitUsage
		}
		if i == 0 {
			first = f
		}
		g, err := f.Grid()
		if err == nil && !f.SameGrid(first) {
			err = fmt.Errorf("%s: ran another sweep than %s", path, files[0])
		}
		k := 0
		if err == nil {
			k, err = shards.add(path, f.Shard)
		}
		if err == nil && len(f.Runs) != len(g.Jobs(k, shards.n)) {
			err = fmt.Errorf("%s: shard %s holds %d runs, want %d", path, f.Shard, len(f.Runs), len(g.Jobs(k, shards.n)))
		}
		if err != nil {
			fmt.Fprintf(stderr, "simulate merge: %v\n", err)
			return exitUsage
		}
		runs = append(runs, f.Runs...)
	}
	if err := shards.complete(); err != nil {
		fmt.Fprintf(stderr, "simulate merge: %v\n", err)
		return exitUsage
	}
	g, _ := first.Grid()
	return sweepReport(g, runs, dir, sweepCommandLine(first.Base, first.Axes, first.Seeds, dir)+fmt.Sprintf(" (merged from %d shards)", shards.n), stdout, stderr)
}
