package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/tideline-sim/tideline/report"
	"github.com/tideline-sim/tideline/runner"
	"github.com/tideline-sim/tideline/scenarios"
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

type checkFile struct {
	Shard string     `json:"shard"`
	Runs  []checkRun `json:"runs"`
}

// checkCommand runs every scenario's expect block over seeds 1..N — the
// CI gate. -shard k/n keeps every n-th (scenario, seed) pair starting at
// the k-th, so that n machines share the work; merge joins their -json.
func checkCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("simulate check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	seeds := fs.Int("seeds", 5, "seeds per scenario (1..N)")
	shard := fs.String("shard", "1/1", "run shard `k/n` of the (scenario, seed) pairs")
	jsonOut := fs.String("json", "", "write the results to this `file` for merge")
	workers := fs.Int("workers", runtimeWorkers(), "worlds run in parallel")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	k, n, err := parseShard(*shard)
	if err != nil || *seeds < 1 {
		fmt.Fprintf(stderr, "simulate check: -shard %q -seeds %d: want k/n with 1 <= k <= n, and at least one seed\n", *shard, *seeds)
		return exitUsage
	}
	names := fs.Args()
	if len(names) == 0 {
		names = scenarios.BuiltinNames()
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
		data, _ := json.MarshalIndent(checkFile{Shard: *shard, Runs: runs}, "", "  ")
		if err := os.WriteFile(*jsonOut, append(data, '\n'), 0o644); err != nil {
			fmt.Fprintf(stderr, "simulate check: %v\n", err)
			return exitUsage
		}
	}
	return checkReport(runs, fmt.Sprintf("shard %s, seeds 1-%d", *shard, *seeds), stdout)
}

func mergeCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: simulate merge SHARD.json ...")
		return exitUsage
	}
	var runs []checkRun
	var shards []string
	for _, path := range args {
		data, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintf(stderr, "simulate merge: %v\n", err)
			return exitUsage
		}
		var f checkFile
		if err := json.Unmarshal(data, &f); err != nil {
			fmt.Fprintf(stderr, "simulate merge: %s: %v\n", path, err)
			return exitUsage
		}
		runs = append(runs, f.Runs...)
		shards = append(shards, f.Shard)
	}
	return checkReport(runs, "merged shards "+strings.Join(shards, ", "), stdout)
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
