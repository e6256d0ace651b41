package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/tideline-sim/tideline/internal/inputfile"
	"github.com/tideline-sim/tideline/internal/safetext"
	"github.com/tideline-sim/tideline/report"
	"github.com/tideline-sim/tideline/runner"
	"github.com/tideline-sim/tideline/scenarios"
	"github.com/tideline-sim/tideline/sim"
)

// Exit codes.
const (
	exitOK    = 0 // every expectation holds
	exitFail  = 1 // a checker or expectation failed, or a replay diverged
	exitUsage = 2 // bad input or usage
)

const usage = `simulate runs a Kafka-style cluster on a virtual clock under a scenario's
faults, and checks what it promised.

Usage:
  simulate -scenario NAME|FILE [-seed N] [-out DIR [-trace=false]] [-duration D] [-q] [-max-events N] [-max-memory 8GiB]
  simulate -replay DIR/run.trace
  simulate -list
  simulate -compare [-seed N] [-out DIR] A B [C ...]
  simulate explore [-scenario] BASE [-seeds N | -for 10m] [-workers K] [-faults crash,...] [-set prop=value] [-beyond-claims] [-base-only] [-out DIR]
  simulate shrink FILE [-checker NAME] [-o FILE]
  simulate sweep -scenario BASE -vary prop=v1,v2 [-vary ...] [-seeds N] [-out DIR]
  simulate check [-seeds N] [-shard k/n] [-json FILE] [SCENARIO ...]
  simulate merge SHARD.json ...
  simulate help | SUBCOMMAND -h

Examples:
  simulate -scenario leader-crash -seed 42        a built-in scenario
  simulate -scenario my-scenario.yaml -out out/   your own; writes report.md, plots, summary.json, traces
  simulate -replay out/run.trace                  re-run and verify every event
  simulate -compare examples/leader-crash-acks1.yaml leader-crash   what do acks=1 and acks=all cost?
  simulate explore -scenario baseline -seeds 500   overlapping random faults, every safety promise checked
  simulate sweep -scenario leader-crash -vary acks=1,all -vary replication.factor=1,3 -seeds 10
                                                   which settings buy what, over many seeds
  simulate check -seeds 20                         every built-in scenario's expectations, as CI runs them

Exit codes: 0 every expectation holds, 1 a checker or expectation failed, 2 bad input
(build the binary to see them: go run reports every failure as 1).

Flags:
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "explore":
			return exploreCommand(args[1:], stdout, stderr)
		case "shrink":
			return shrinkCommand(args[1:], stdout, stderr)
		case "check":
			return checkCommand(args[1:], stdout, stderr)
		case "merge":
			return mergeCommand(args[1:], stdout, stderr)
		case "sweep":
			return sweepCommand(args[1:], stdout, stderr)
		case "help":
			args = []string{"-h"} // as -h: the usage, exit 0
		}
	}
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	scenario := fs.String("scenario", "", "scenario `file`, or the name of a built-in scenario")
	seedFlag := fs.String("seed", "", "run `seed` (default: the scenario's seed)")
	out := fs.String("out", "", "write the report (report.md, plots, summary.json, traces) to `dir`")
	duration := fs.Duration("duration", 0, "run for this simulated `duration`: the load goes on until the settle period")
	quiet := fs.Bool("q", false, "print only the verdict line")
	withTrace := fs.Bool("trace", true, "with -out, also write run.trace and run.perfetto-trace (large: ~20 MB and ~8 MB a simulated minute)")
	replay := fs.String("replay", "", "re-run a recorded `trace` and verify every event")
	list := fs.Bool("list", false, "list the built-in scenarios")
	compare := fs.Bool("compare", false, "run the scenarios named as arguments with one seed and compare them")
	maxEvents := fs.Int64("max-events", runner.DefaultMaxEvents, "refuse a run estimated to take more `events`")
	maxMemory := fs.String("max-memory", "4GiB", "refuse a run estimated to need more `memory`")
	memProfile := fs.String("memprofile", "", "write a heap profile at the end of the run (before the checkers) to `file`")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to `file`")
	positional, code, done := parseArgs(fs, args, -1, stderr)
	if done {
		return code
	}
	if len(positional) > 0 && !*compare {
		fmt.Fprintf(stderr, "simulate: unexpected argument %q; see simulate -h\n", positional[0])
		return exitUsage
	}
	if msg := flagConflict(fs); msg != "" {
		fmt.Fprintf(stderr, "simulate: %s; see simulate -h\n", msg)
		return exitUsage
	}
	if *maxEvents < 1 {
		fmt.Fprintf(stderr, "simulate: -max-events %d: want a positive number of events\n", *maxEvents)
		return exitUsage
	}
	memCap, err := runner.ParseSize(*maxMemory)
	if err != nil {
		fmt.Fprintf(stderr, "simulate: -max-memory %q: %v\n", *maxMemory, err)
		return exitUsage
	}
	switch {
	case *compare:
		return compareScenarios(positional, *seedFlag, *out, *maxEvents, memCap, stdout, stderr)
	case *list:
		return listBuiltins(stdout)
	case *replay != "":
		return replayTrace(*replay, stdout, stderr)
	case *scenario == "":
		fs.Usage()
		return exitUsage
	}
	sc, err := scenarios.Open(*scenario)
	if err != nil {
		fmt.Fprintf(stderr, "simulate: %v\n", err)
		return exitUsage
	}
	seed := sc.Seed
	if *seedFlag != "" {
		if seed, err = strconv.ParseUint(*seedFlag, 10, 64); err != nil {
			fmt.Fprintf(stderr, "simulate: -seed %q: want a whole number from 0 to 18446744073709551615\n", *seedFlag)
			return exitUsage
		}
	}
	var lastFault time.Duration
	for _, f := range sc.Faults {
		lastFault = max(lastFault, f.At+f.For)
	}
	if flagGiven(fs, "duration") && *duration <= 0 {
		fmt.Fprintf(stderr, "simulate: -duration %v: want a positive simulated time (leave it out for the scenario's own %v)\n", *duration, sc.Duration)
		return exitUsage
	}
	if *duration > scenarios.MaxDuration {
		fmt.Fprintf(stderr, "simulate: -duration %v: at most %v\n", *duration, scenarios.MaxDuration)
		return exitUsage
	}
	if *duration > 0 && *duration-sc.Settle < lastFault {
		fmt.Fprintf(stderr, "simulate: -duration %v: want at least %v, the last fault's end plus the settle period\n", *duration, lastFault+sc.Settle)
		return exitUsage
	}
	if err := runner.CheckCost(sc, *duration, *maxEvents, memCap); err != nil {
		fmt.Fprintf(stderr, "simulate: %s: %v\n", sc.Name, err)
		return exitUsage
	}
	debug.SetMemoryLimit(memoryLimit(runner.Estimate(sc, *duration), memCap))
	command := reproduceCommand(*scenario, seed, *duration)
	if *out != "" {
		if err := report.Prepare(*out); err != nil {
			fmt.Fprintf(stderr, "simulate: -out: %v\n", err)
			return exitUsage
		}
	}

	opts := runner.Options{Seed: seed, Duration: *duration, Progress: progressLine(stderr), MaxEvents: *maxEvents, MaxMemory: memCap}
	var output *report.Out // the trace streams there as the run goes
	if *out != "" {
		if output, err = report.Open(*out, *withTrace); err != nil {
			fmt.Fprintf(stderr, "simulate: -out: %v\n", err)
			return exitUsage
		}
		defer output.Abort() // a no-op once finished
		output.Options(&opts)
	}
	stopProfiles, err := startProfiles(*cpuProfile, *memProfile, &opts)
	if err != nil {
		fmt.Fprintf(stderr, "simulate: %v\n", err)
		return exitUsage
	}
	res, err := runner.Run(sc, opts)
	if perr := stopProfiles(); perr != nil {
		fmt.Fprintf(stderr, "simulate: %v\n", perr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "simulate: %s seed %d: %v\n", sc.Name, seed, err)
		return exitFail
	}
	if *quiet {
		verdict := "PASS"
		if !res.OK() {
			verdict = "FAIL"
		}
		fmt.Fprintf(stdout, "%s %s seed %d trace %016x\n", verdict, sc.Name, seed, res.TraceHash)
	} else if err := report.Text(stdout, res, command); err != nil {
		fmt.Fprintf(stderr, "simulate: %v\n", err)
		return exitFail
	}
	if *out != "" {
		if err := output.Finish(res, command); err != nil {
			fmt.Fprintf(stderr, "simulate: %v\n", err)
			return exitUsage
		}
	}
	if !res.OK() {
		return exitFail
	}
	return exitOK
}

// readRecording reads a trace and the scenario its header carries: a
// complete recording (footer, events and final hash in agreement) of a
// scenario within every limit, or an error saying what is wrong.
func readRecording(path string, r io.Reader) (sim.TraceHeader, []sim.TraceEntry, *scenarios.Scenario, error) {
	head, entries, err := sim.ReadTrace(r)
	if err != nil {
		return head, nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	sc, err := scenarios.Load(safetext.Show(head.Run)+" (from "+safetext.Show(path)+")", []byte(head.Input))
	if err != nil {
		return head, nil, nil, err
	}
	return head, entries, sc, nil
}

func reproduceCommand(scenario string, seed uint64, duration time.Duration) string {
	cmd := fmt.Sprintf("simulate -scenario %s -seed %d", scenario, seed)
	if duration > 0 {
		cmd += " -duration " + duration.String()
	}
	return cmd
}

func listBuiltins(stdout io.Writer) int {
	for _, name := range scenarios.BuiltinNames() {
		sc, err := scenarios.Builtin(name)
		if err != nil {
			fmt.Fprintf(stdout, "%-20s  (broken: %v)\n", name, err)
			continue
		}
		first, _, _ := strings.Cut(sc.Description, ". ")
		fmt.Fprintf(stdout, "%-20s  %s.\n", name, strings.TrimSuffix(first, "."))
	}
	return exitOK
}

func replayTrace(path string, stdout, stderr io.Writer) int {
	f, err := inputfile.Open(path)
	if err != nil {
		fmt.Fprintf(stderr, "simulate: %v\n", err)
		return exitUsage
	}
	defer f.Close()
	head, entries, sc, err := readRecording(path, f)
	if err != nil {
		fmt.Fprintf(stderr, "simulate: %v\n", err)
		return exitUsage
	}
	res, err := runner.Run(sc, runner.Options{Seed: uint64(head.Seed), Duration: head.Duration, Replay: entries})
	var div *sim.DivergenceError
	switch {
	case errors.As(err, &div):
		fmt.Fprintf(stdout, "replay: %v\n", div)
		return exitFail
	case err != nil:
		fmt.Fprintf(stderr, "simulate: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "replay: identical (%d events, trace %016x)\n", res.Events, res.TraceHash)
	return exitOK
}

// flagConflict names flags given together that cannot be: -list, -replay,
// -compare and -scenario each choose what to do, and the run's own flags
// mean nothing to -list or -replay.
func flagConflict(fs *flag.FlagSet) string {
	var modes, others []string
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "list", "replay", "compare", "scenario":
			modes = append(modes, "-"+f.Name)
		default:
			others = append(others, "-"+f.Name)
		}
	})
	switch {
	case len(modes) > 1:
		return strings.Join(modes, " and ") + " do not go together: each says what to do"
	case len(modes) == 1 && (modes[0] == "-list" || modes[0] == "-replay") && len(others) > 0:
		return fmt.Sprintf("%s takes no other flag (%s)", modes[0], strings.Join(others, ", "))
	}
	return ""
}

// progressLine returns a progress reporter for long runs when stderr is a
// terminal, nil otherwise. It reads the wall clock only to decide whether a
// run is long enough to show; nothing it does reaches the run or stdout.
func progressLine(stderr io.Writer) func(now, end time.Duration) {
	f, ok := stderr.(*os.File)
	if !ok {
		return nil
	}
	if info, err := f.Stat(); err != nil || info.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	start, shown := time.Now(), false
	return func(now, end time.Duration) {
		if time.Since(start) < time.Second && !shown {
			return
		}
		shown = true
		fmt.Fprintf(f, "\r  simulated %v of %v (%.0f%%)", now, end, 100*now.Seconds()/end.Seconds())
		if now+time.Second >= end {
			fmt.Fprint(f, "\r\033[K")
		}
	}
}

// compareScenarios runs several scenarios with one seed (the first
// scenario's unless -seed) and prints them side by side; with -out it also
// writes the overlaid availability plot.
func compareScenarios(names []string, seedFlag, out string, maxEvents, memCap int64, stdout, stderr io.Writer) int {
	if len(names) < 2 {
		fmt.Fprintln(stderr, "simulate: -compare needs at least two scenarios")
		return exitUsage
	}
	list, err := scenarios.OpenAll(names)
	if err != nil {
		fmt.Fprintf(stderr, "simulate: %v\n", err)
		return exitUsage
	}
	for i, sc := range list {
		for j, other := range list[:i] {
			if bytes.Equal(sc.Text, other.Text) {
				fmt.Fprintf(stderr, "simulate: -compare: %s and %s are the same scenario: compare scenarios that differ\n", names[j], names[i])
				return exitUsage
			}
		}
		if err := runner.CheckCost(sc, 0, maxEvents, memCap); err != nil {
			fmt.Fprintf(stderr, "simulate: -compare: %s: %v\n", sc.Name, err)
			return exitUsage
		}
	}
	seed := list[0].Seed
	if seedFlag != "" {
		if seed, err = strconv.ParseUint(seedFlag, 10, 64); err != nil {
			fmt.Fprintf(stderr, "simulate: -seed %q: want a whole number\n", seedFlag)
			return exitUsage
		}
	}
	if out != "" {
		// As a run does: nothing an earlier run left stays beside the
		// comparison.
		if err := report.Prepare(out); err != nil {
			fmt.Fprintf(stderr, "simulate: -out: %v\n", err)
			return exitUsage
		}
	}
	var results []*runner.Result
	code := exitOK
	for _, sc := range list {
		res, err := runner.Run(sc, runner.Options{Seed: seed})
		if err != nil {
			fmt.Fprintf(stderr, "simulate: %s seed %d: %v\n", sc.Name, seed, err)
			return exitFail
		}
		if !res.OK() {
			code = exitFail
		}
		results = append(results, res)
	}
	if err := report.Compare(stdout, results); err != nil {
		fmt.Fprintf(stderr, "simulate: %v\n", err)
		return exitFail
	}
	if out != "" {
		command := "simulate -compare " + strings.Join(names, " ") + fmt.Sprintf(" -seed %d", seed)
		if err := report.WriteCompare(out, results, command); err != nil {
			fmt.Fprintf(stderr, "simulate: %v\n", err)
			return exitUsage
		}
	}
	return code
}
