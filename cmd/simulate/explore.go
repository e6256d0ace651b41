package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/tideline-sim/tideline/explore"
	"github.com/tideline-sim/tideline/internal/atomicfile"
	"github.com/tideline-sim/tideline/internal/inputfile"
	"github.com/tideline-sim/tideline/report"
	"github.com/tideline-sim/tideline/runner"
	"github.com/tideline-sim/tideline/scenarios"
)

func exploreCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("simulate explore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.String("scenario", "baseline", "base scenario (its faults are replaced by drawn ones)")
	seeds := fs.Int("seeds", 100, "how many seeds to explore")
	start := fs.Uint64("start", 1, "first seed")
	forTime := fs.Duration("for", 0, "explore for this long (wall clock) instead of -seeds")
	workers := fs.Int("workers", runtimeWorkers(), "worlds run in parallel")
	known := append(slices.Clone(explore.Kinds), explore.Operations...)
	kinds := fs.String("faults", "", "fault kinds to draw, comma-separated (default all): "+strings.Join(known, ",")+" (stop turns some drawn crashes into orderly stops; zone cuts a rack off when the cluster has racks)")
	beyond := fs.Bool("beyond-claims", false, "let power fail too: map failure modes rather than hunt bugs")
	baseOnly := fs.Bool("base-only", false, "draw faults only, on the base's cluster and settings (default: each seed also draws the cluster and its settings)")
	out := fs.String("out", "explore-out", "where failing seeds and shrunk scenarios are written")
	shrink := fs.Bool("shrink", true, "shrink the first failure of each checker")
	shard := fs.String("shard", "1/1", "explore shard `k/n` of the seeds: every n-th from the k-th (default: from "+envShardIndex+" and "+envShardCount+" if set)")
	jsonOut := fs.String("json", "", "write the seeds' outcomes to this `file` for merge")
	config := map[string]string{}
	fs.Func("set", "set a broker `property=value` on the base, e.g. inter.broker.protocol.version=3.4 (repeatable)", func(s string) error {
		name, value, ok := strings.Cut(s, "=")
		if !ok {
			return fmt.Errorf("want property=value")
		}
		config[strings.TrimSpace(name)] = strings.TrimSpace(value)
		return nil
	})
	describe(fs, stderr, "simulate explore [-scenario] BASE [-seeds N | -for 10m] [flags]",
		"Draws random faults onto the base scenario for each seed, runs the seeds in\nparallel, checks every safety promise (and liveness on seeds whose faults came\none at a time), writes failing seeds as scenarios and shrinks the first failure\nof each checker.")
	positional, code, stop := parseArgs(fs, args, 1, stderr)
	if stop {
		return code
	}
	if len(positional) == 1 {
		*base = positional[0]
	}
	sc, err := scenarios.Open(*base)
	if err != nil {
		fmt.Fprintf(stderr, "simulate explore: %v\n", err)
		return exitUsage
	}
	opts := explore.Options{BeyondClaims: *beyond, Config: config, BaseOnly: *baseOnly}
	if *kinds != "" {
		for _, k := range strings.Split(*kinds, ",") {
			if !slices.Contains(known, k) {
				fmt.Fprintf(stderr, "simulate explore: unknown fault kind %q (known: %s)\n", k, strings.Join(known, ", "))
				return exitUsage
			}
			opts.Kinds = append(opts.Kinds, k)
		}
	}
	if !checkCount(stderr, "simulate explore", "seeds", *seeds, maxSeeds) || !checkCount(stderr, "simulate explore", "workers", *workers, maxWorkers) {
		return exitUsage
	}
	if flagGiven(fs, "for") && *forTime <= 0 {
		fmt.Fprintf(stderr, "simulate explore: -for %v: want a positive wall-clock time, e.g. 10m\n", *forTime)
		return exitUsage
	}
	// -set is checked once, against the base, before any seed is drawn.
	probe := sc.Cluster.Broker
	for _, name := range slices.Sorted(maps.Keys(config)) {
		if err := probe.Set(name, config[name]); err != nil {
			fmt.Fprintf(stderr, "simulate explore: -set %s=%s: %v\n", name, config[name], err)
			return exitUsage
		}
	}
	if err := probe.Validate(); err != nil {
		fmt.Fprintf(stderr, "simulate explore: -set: %v\n", err)
		return exitUsage
	}
	k, n, _, err := shardOf(*shard, flagGiven(fs, "shard"), os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "simulate explore: %v\n", err)
		return exitUsage
	}
	if n > 1 && *forTime > 0 {
		fmt.Fprintln(stderr, "simulate explore: a shard explores a fixed set of seeds: give -seeds, not -for")
		return exitUsage
	}
	if n > *seeds {
		fmt.Fprintf(stderr, "simulate explore: %d shards of %d seeds: some would hold none\n", n, *seeds)
		return exitUsage
	}

	var outcomes []explore.Outcome
	bar := newBar(stderr, shardSize(k, n, *seeds), *forTime > 0)
	violations := 0
	done := func(o explore.Outcome) {
		if !o.OK() {
			violations++
		}
		if bar != nil {
			bar.Describe(fmt.Sprintf("%d violating", violations))
			_ = bar.Add(1)
		}
	}
	deadline := time.Now().Add(*forTime) // wall time only bounds how long to keep going
	next := *start
	for {
		count := *seeds
		if *forTime > 0 {
			count = 10 * *workers
		}
		// This shard's seeds among next .. next+count-1: every n-th from
		// start+k-1, found by stepping, not by testing each seed.
		var batch []uint64
		first := *start + uint64(k-1)
		if first < next {
			first += (next - first + uint64(n) - 1) / uint64(n) * uint64(n)
		}
		for seed := first; seed < next+uint64(count); seed += uint64(n) {
			batch = append(batch, seed)
		}
		next += uint64(count)
		outcomes = append(outcomes, explore.Explore(sc, batch, *workers, opts, done)...)
		if *forTime == 0 || time.Now().After(deadline) {
			break
		}
	}
	if bar != nil {
		_ = bar.Finish()
		fmt.Fprintln(stderr)
	}
	if *jsonOut != "" {
		f := exploreFile{Format: exploreFormat, Shard: fmt.Sprintf("%d/%d", k, n), Base: sc.Name, Inputs: inputsHash([]*scenarios.Scenario{sc}),
			Start: *start, Seeds: *seeds, Claims: claimsText(opts), Controllers: sc.Cluster.Controllers, Swarm: !opts.BaseOnly, Outcomes: records(outcomes)}
		if *forTime > 0 {
			f.Seeds = len(outcomes)
		}
		data, _ := json.MarshalIndent(f, "", "  ")
		if err := atomicfile.Write(*jsonOut, append(data, '\n')); err != nil {
			fmt.Fprintf(stderr, "simulate explore: %v\n", err)
			return exitUsage
		}
	}
	return exploreReport(sc, outcomes, opts, *out, *shrink, stdout, stderr)
}

// exploreFile is one explore shard's outcomes, as -json writes them and
// merge reads them back.
type exploreFile struct {
	Format      string          `json:"format"`
	Shard       string          `json:"shard"`
	Base        string          `json:"base"`
	Inputs      string          `json:"inputs"` // hash of the base scenario: shards of other files do not mix
	Start       uint64          `json:"start"`
	Seeds       int             `json:"seeds"`
	Claims      string          `json:"claims"`
	Controllers int             `json:"controllers"`
	Swarm       bool            `json:"swarm,omitempty"` // each seed drew its cluster and settings
	Outcomes    []exploreRecord `json:"outcomes"`
}

// exploreRecord is what merge needs of an outcome.
type exploreRecord struct {
	Seed     uint64   `json:"seed"`
	Config   string   `json:"config,omitempty"` // the cluster and settings the seed drew
	Failed   []string `json:"failed,omitempty"`
	Coverage []int    `json:"coverage"`
	Liveness bool     `json:"liveness"`
	Err      string   `json:"error,omitempty"`
}

const exploreFormat = "tideline-explore/1"

func records(outcomes []explore.Outcome) []exploreRecord {
	out := make([]exploreRecord, len(outcomes))
	for i, o := range outcomes {
		out[i] = exploreRecord{Seed: o.Seed, Config: o.Config, Failed: o.Failed, Coverage: o.Coverage, Liveness: o.Liveness, Err: o.Err}
	}
	return out
}

// mergeExplore joins an exploration's shards, verifies them, and prints
// the violations and coverage of all of them.
func mergeExplore(files []string, stdout, stderr io.Writer) int {
	var first exploreFile
	var outcomes []explore.Outcome
	var shards shardSet
	for i, path := range files {
		data, err := inputfile.Read(path, maxJSONBytes)
		if err != nil {
			fmt.Fprintf(stderr, "simulate merge: %v\n", err)
			return exitUsage
		}
		var f exploreFile
		if err := json.Unmarshal(data, &f); err != nil || f.Format != exploreFormat {
			fmt.Fprintf(stderr, "simulate merge: %s: not an explore -json file\n", path)
			return exitUsage
		}
		if i == 0 {
			first = f
		}
		var k int
		if f.Base != first.Base || f.Inputs != first.Inputs || f.Start != first.Start || f.Seeds != first.Seeds || f.Claims != first.Claims {
			err = fmt.Errorf("%s: explored another base, seeds or claims than %s", path, files[0])
		} else if k, err = shards.add(path, f.Shard); err == nil && len(f.Outcomes) != shardSize(k, shards.n, f.Seeds) {
			err = fmt.Errorf("%s: shard %s holds %d seeds, want %d", path, f.Shard, len(f.Outcomes), shardSize(k, shards.n, f.Seeds))
		}
		if err != nil {
			fmt.Fprintf(stderr, "simulate merge: %v\n", err)
			return exitUsage
		}
		for _, r := range f.Outcomes {
			outcomes = append(outcomes, explore.Outcome{Seed: r.Seed, Config: r.Config, Failed: r.Failed, Coverage: r.Coverage, Liveness: r.Liveness, Err: r.Err})
		}
	}
	if err := shards.complete(); err != nil {
		fmt.Fprintf(stderr, "simulate merge: %v\n", err)
		return exitUsage
	}
	slices.SortFunc(outcomes, func(a, b explore.Outcome) int { return cmp.Compare(a.Seed, b.Seed) })
	fmt.Fprintf(stdout, "merged %d shards\n", shards.n)
	if broken := exploreSummary(first.Base, first.Claims, first.Controllers > 1 || first.Swarm, outcomes, stdout, stderr); len(broken) > 0 {
		fmt.Fprintln(stdout, "\neach shard wrote its failing seeds (and shrunk scenarios) to its own -out")
		return exitFail
	}
	return exitOK
}

func exploreReport(sc *scenarios.Scenario, outcomes []explore.Outcome, opts explore.Options, out string, shrink bool, stdout, stderr io.Writer) int {
	broken := exploreSummary(sc.Name, claimsText(opts), sc.Cluster.Controllers > 1 || !opts.BaseOnly, outcomes, stdout, stderr)
	if len(broken) == 0 {
		return exitOK
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		fmt.Fprintf(stderr, "simulate explore: %v\n", err)
		return exitUsage
	}
	for _, o := range broken {
		s, err := explore.Scenario(sc, o.Seed, o.Faults, o.Overrides(opts))
		if err == nil {
			err = atomicfile.Write(filepath.Join(out, fmt.Sprintf("seed-%d.yaml", o.Seed)), s.Text)
		}
		if err != nil {
			// A seed that cannot be written is a finding lost: say so and
			// stop, rather than count it as written.
			fmt.Fprintf(stderr, "simulate explore: writing seed %d: %v\n", o.Seed, err)
			return exitUsage
		}
	}
	fmt.Fprintf(stdout, "\n%d failing seeds written to %s/seed-N.yaml; replay one with: simulate -scenario %s/seed-%d.yaml\n", len(broken), out, out, broken[0].Seed)
	if shrink {
		first := explore.FirstFailures(outcomes)
		for _, c := range explore.Checkers {
			o, ok := first[c]
			if !ok {
				continue
			}
			file := filepath.Join(out, fmt.Sprintf("seed-%d.yaml", o.Seed))
			if code := shrinkAndReport(file, c, filepath.Join(out, "shrunk-"+c+".yaml"), stdout, stderr); code == exitUsage {
				return exitUsage // a shrunk scenario not written, or a seed that no longer fails
			}
		}
	}
	return exitFail
}

// exploreSummary prints what the seeds found and reached, and returns the
// seeds that broke a promise.
func exploreSummary(base, claims string, quorum bool, outcomes []explore.Outcome, stdout, stderr io.Writer) []explore.Outcome {
	liveness := 0
	for _, o := range outcomes {
		if o.Liveness {
			liveness++
		}
	}
	fmt.Fprintf(stdout, "explored %d seeds of %s (%s; liveness checked on the %d whose faults came one at a time)\n", len(outcomes), base, claims, liveness)
	byChecker := map[string][]uint64{}
	var broken []explore.Outcome
	for _, o := range outcomes {
		if o.Err != "" {
			fmt.Fprintf(stderr, "seed %d: the run failed: %s\n", o.Seed, o.Err)
		}
		for _, c := range o.Failed {
			byChecker[c] = append(byChecker[c], o.Seed)
		}
		if !o.OK() {
			broken = append(broken, o)
		}
	}
	table := report.Table{Title: "violations", Header: []string{"checker", "seeds", "first seed", "seeds that found it"}}
	for _, c := range explore.Checkers {
		seeds := byChecker[c]
		if len(seeds) == 0 {
			continue
		}
		var list []string
		for i, s := range seeds {
			if i == 8 {
				list = append(list, "…")
				break
			}
			list = append(list, strconv.FormatUint(s, 10))
		}
		table.Rows = append(table.Rows, []string{c, strconv.Itoa(len(seeds)), strconv.FormatUint(seeds[0], 10), strings.Join(list, " ")})
	}
	if len(table.Rows) == 0 {
		fmt.Fprintln(stdout, "\nno violations")
	} else {
		fmt.Fprintln(stdout, "\nviolations")
		_ = table.Render(stdout)
		for _, c := range explore.Checkers {
			if seeds := byChecker[c]; len(seeds) > 0 {
				if i := slices.IndexFunc(outcomes, func(o explore.Outcome) bool { return o.Seed == seeds[0] }); i >= 0 && outcomes[i].Config != "" {
					fmt.Fprintf(stdout, "seed %d (%s) drew: %s\n", seeds[0], c, outcomes[i].Config)
				}
			}
		}
	}
	fmt.Fprintln(stdout, "\ncoverage (protocol paths reached)")
	_ = coverageTable(outcomes, quorum).Render(stdout)
	return broken
}

// claimsText says which claims the faults were drawn within, and with what
// options: shards of one exploration must agree on it.
func claimsText(o explore.Options) string {
	claim := "within the safety claims: faults overlap and strike at protocol events, no power loss"
	if o.BeyondClaims {
		claim = "beyond the claims: faults overlap and strike at protocol events, power fails"
	}
	if !o.BaseOnly {
		claim += "; cluster and settings drawn per seed"
	}
	if len(o.Kinds) > 0 {
		claim += "; faults " + strings.Join(o.Kinds, ",")
	}
	for _, k := range slices.Sorted(maps.Keys(o.Config)) {
		claim += fmt.Sprintf("; %s=%s", k, o.Config[k])
	}
	return claim
}

func coverageTable(outcomes []explore.Outcome, quorum bool) report.Table {
	t := report.Table{Title: "coverage", Header: []string{"protocol path", "seeds reaching it", "times", "first seed"}}
	// A base with consumer groups always reaches a rebalance (the groups
	// forming): without one, the group rows would only say zero.
	groups := false
	for i, p := range explore.Paths {
		for _, o := range outcomes {
			groups = groups || p.Groups && i < len(o.Coverage) && o.Coverage[i] > 0
		}
	}
	for i, p := range explore.Paths {
		if p.Quorum && !quorum {
			continue // a lone controller has no quorum to explore
		}
		if p.Groups && !groups {
			continue
		}
		seeds, times, first := 0, 0, "-"
		for _, o := range outcomes {
			if i < len(o.Coverage) && o.Coverage[i] > 0 {
				if seeds == 0 {
					first = strconv.FormatUint(o.Seed, 10)
				}
				seeds++
				times += o.Coverage[i]
			}
		}
		reach := strconv.Itoa(seeds)
		if seeds == 0 {
			reach = "0: NEVER REACHED"
		}
		t.Rows = append(t.Rows, []string{p.Name, reach, strconv.Itoa(times), first})
	}
	return t
}

func shrinkCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("simulate shrink", flag.ContinueOnError)
	fs.SetOutput(stderr)
	checker := fs.String("checker", "", "the checker that must keep failing (default: the first that fails)")
	outFile := fs.String("o", "", "where to write the shrunk scenario (default: FILE-shrunk.yaml)")
	describe(fs, stderr, "simulate shrink FILE [-checker NAME] [-o FILE]",
		"Shrinks a failing scenario to the fewest and shortest faults that still break\nthe checker, and writes it with the steps it took and the violation's story.")
	positional, code, done := parseArgs(fs, args, 1, stderr)
	if done {
		return code
	}
	if len(positional) == 0 {
		fs.Usage()
		return exitUsage
	}
	file := positional[0]
	if *outFile == "" {
		*outFile = strings.TrimSuffix(file, ".yaml") + "-shrunk.yaml"
	}
	if *checker == "" {
		sc, err := scenarios.Open(file)
		if err != nil {
			fmt.Fprintf(stderr, "simulate shrink: %v\n", err)
			return exitUsage
		}
		res, err := runner.Run(sc, runner.Options{Seed: sc.Seed})
		if err != nil {
			fmt.Fprintf(stderr, "simulate shrink: %v\n", err)
			return exitFail
		}
		for _, ch := range res.Checks {
			if !ch.OK() {
				*checker = ch.Checker
				break
			}
		}
		if *checker == "" {
			fmt.Fprintf(stderr, "simulate shrink: %s breaks no promise: nothing to shrink\n", file)
			return exitUsage
		}
	}
	return shrinkAndReport(file, *checker, *outFile, stdout, stderr)
}

// shrinkBudget bounds the simulations one shrink may run.
const shrinkBudget = 150

func shrinkAndReport(file, checker, outFile string, stdout, stderr io.Writer) int {
	text, err := inputfile.Read(file, scenarios.MaxFileBytes)
	if err != nil {
		fmt.Fprintf(stderr, "simulate shrink: %v\n", err)
		return exitUsage
	}
	s, err := explore.Shrink(file, text, checker, shrinkBudget)
	if errors.Is(err, explore.ErrDoesNotFail) {
		fmt.Fprintf(stderr, "simulate shrink: %v\n", err)
		return exitUsage
	}
	if err != nil {
		fmt.Fprintf(stderr, "simulate shrink: %v\n", err)
		return exitFail
	}
	if err := atomicfile.Write(outFile, s.Text); err != nil {
		fmt.Fprintf(stderr, "simulate shrink: %v\n", err)
		return exitUsage
	}
	fmt.Fprintf(stdout, "\nshrunk %s for %s: %d faults (was %d), %v (was %v), %d runs -> %s\n",
		file, checker, s.FaultsAfter, s.FaultsBefore, s.Scenario.Duration, s.DurationBefore, s.Runs, outFile)
	for _, step := range s.Steps {
		fmt.Fprintf(stdout, "  - %s\n", step)
	}
	for _, ch := range s.Result.Checks {
		if ch.Checker == checker && len(ch.Violations) > 0 {
			v := ch.Violations[0]
			fmt.Fprintf(stdout, "  %s: %s\n", v.Kind, v.Message)
			for _, line := range v.Story {
				fmt.Fprintf(stdout, "    %s\n", line)
			}
		}
	}
	return exitFail
}

// newBar is a progress bar on a terminal, nil elsewhere (CI logs stay clean).
func newBar(stderr io.Writer, total int, open bool) *progressbar.ProgressBar {
	f, ok := stderr.(*os.File)
	if !ok {
		return nil
	}
	if info, err := f.Stat(); err != nil || info.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	if open {
		total = -1
	}
	return progressbar.NewOptions(total, progressbar.OptionSetWriter(f), progressbar.OptionShowCount(), progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("seeds"), progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionSetDescription("exploring"))
}
