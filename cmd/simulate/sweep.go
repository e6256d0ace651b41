package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/tideline-sim/tideline/internal/atomicfile"
	"github.com/tideline-sim/tideline/scenarios"
	"github.com/tideline-sim/tideline/sweep"
)

// sweepCommand runs a grid of settings over a scenario and seeds 1..N
// and writes the table and heatmaps of a design review.
func sweepCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("simulate sweep", flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.String("scenario", "", "the base scenario: a `file` or a built-in name")
	seeds := fs.Int("seeds", 10, "seeds per cell (1..N)")
	workers := fs.Int("workers", runtimeWorkers(), "worlds run in parallel")
	shard := fs.String("shard", "1/1", "run shard `k/n` of the (cell, seed) runs (default: from "+envShardIndex+" and "+envShardCount+" if set)")
	jsonOut := fs.String("json", "", "write the runs to this `file` for merge")
	out := fs.String("out", "", "write report.md, the heatmaps and the cells that lost writes to `dir`")
	var axes []sweep.Axis
	fs.Func("vary", "vary a `property=v1,v2,...` (repeatable): any broker, topic, producer or consumer property, partitions, replication.factor, or faults=none,drawn,SCENARIO", func(s string) error {
		a, err := sweep.ParseAxis(s)
		if err != nil {
			return err
		}
		axes = append(axes, a)
		return nil
	})
	describe(fs, stderr, "simulate sweep -scenario BASE -vary prop=v1,v2 [-vary ...] [-seeds N] [-out DIR] [-shard k/n -json FILE]",
		"Runs every combination of the varied settings over the base scenario, seeds\n1..N each, in parallel, and summarises each cell: acknowledged writes lost,\navailability and the longest outage, p99 latency, throughput. -out writes\nreport.md with a heatmap per measure and, for every cell that lost writes, the\nscenario that reproduces its worst seed. -shard splits the runs across\nmachines; merge -out DIR joins their -json.")
	positional, code, done := parseArgs(fs, args, 1, stderr)
	if done {
		return code
	}
	if len(positional) == 1 {
		*base = positional[0]
	}
	if *base == "" {
		fmt.Fprintln(stderr, "simulate sweep: give the base scenario: -scenario NAME|FILE")
		return exitUsage
	}
	sc, err := scenarios.Open(*base)
	if err != nil {
		fmt.Fprintf(stderr, "simulate sweep: %v\n", err)
		return exitUsage
	}
	if !checkCount(stderr, "simulate sweep", "seeds", *seeds, maxSeeds) || !checkCount(stderr, "simulate sweep", "workers", *workers, maxWorkers) {
		return exitUsage
	}
	g := &sweep.Grid{Base: sc, Axes: axes, Seeds: *seeds}
	if err := g.Validate(); err != nil {
		fmt.Fprintf(stderr, "simulate sweep: %v\n", err)
		return exitUsage
	}
	k, n, _, err := shardOf(*shard, flagGiven(fs, "shard"), os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "simulate sweep: %v\n", err)
		return exitUsage
	}
	jobs := g.Jobs(k, n)
	if len(jobs) == 0 {
		fmt.Fprintf(stderr, "simulate sweep: shard %d/%d holds no runs: use fewer shards\n", k, n)
		return exitUsage
	}
	if n > 1 && *jsonOut == "" {
		fmt.Fprintln(stderr, "simulate sweep: a shard of a sweep needs -json FILE, for merge")
		return exitUsage
	}
	if *out != "" && n > 1 {
		fmt.Fprintln(stderr, "simulate sweep: -out reports a whole sweep: write each shard's -json and merge them with merge -out DIR")
		return exitUsage
	}
	bar := newBar(stderr, len(jobs), false)
	runs := sweep.RunAll(g, jobs, *workers, func() {
		if bar != nil {
			_ = bar.Add(1)
		}
	})
	if bar != nil {
		_ = bar.Finish()
		fmt.Fprintln(stderr)
	}
	if *jsonOut != "" {
		data, _ := json.MarshalIndent(sweep.NewFile(g, fmt.Sprintf("%d/%d", k, n), runs), "", "  ")
		if err := atomicfile.Write(*jsonOut, append(data, '\n')); err != nil {
			fmt.Fprintf(stderr, "simulate sweep: %v\n", err)
			return exitUsage
		}
	}
	if n > 1 {
		fmt.Fprintf(stdout, "sweep shard %d/%d: %d runs written to %s\n", k, n, len(runs), *jsonOut)
		return exitOK
	}
	return sweepReport(g, runs, *out, sweepCommandLine(*base, axes, *seeds, *out), stdout, stderr)
}

// sweepReport prints the table and, with dir, writes the report.
func sweepReport(g *sweep.Grid, runs []sweep.Run, dir, command string, stdout, stderr io.Writer) int {
	sums := sweep.Summarise(g, runs)
	if err := sweep.Print(stdout, g, sums); err != nil {
		fmt.Fprintf(stderr, "simulate sweep: %v\n", err)
		return exitFail
	}
	if dir != "" {
		if err := sweep.WriteReport(dir, g, sums, command); err != nil {
			fmt.Fprintf(stderr, "simulate sweep: %v\n", err)
			return exitUsage
		}
		fmt.Fprintf(stdout, "report: %s\n", strings.TrimSuffix(dir, "/")+"/report.md")
	}
	return exitOK
}

func sweepCommandLine(base string, axes []sweep.Axis, seeds int, out string) string {
	cmd := "simulate sweep -scenario " + base
	for _, a := range axes {
		cmd += " -vary " + a.String()
	}
	cmd += fmt.Sprintf(" -seeds %d", seeds)
	if out != "" {
		cmd += " -out " + out
	}
	return cmd
}
