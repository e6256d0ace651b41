package explore

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/tideline-sim/tideline/runner"
	"github.com/tideline-sim/tideline/scenarios"
)

// Shrunk is the result of shrinking: the smallest scenario found that still
// breaks the promise, and what it took.
type Shrunk struct {
	Text           []byte
	Scenario       *scenarios.Scenario
	Result         *runner.Result
	FaultsBefore   int
	FaultsAfter    int
	Runs           int
	DurationBefore time.Duration
	Steps          []string // each step that kept the failure, in order
}

// ErrDoesNotFail is returned when the scenario to shrink breaks no promise
// of the named checker.
var ErrDoesNotFail = errors.New("the scenario does not fail that checker")

// Shrink reduces a failing scenario, delta-debugging style, while the same
// checker still fails with the scenario's seed: it removes faults, halves
// fault windows, halves producer rates and cuts the duration, keeping each
// step that still fails. It works on the YAML itself, so any scenario file
// can be shrunk, and it runs at most budget simulations.
func Shrink(file string, text []byte, checker string, budget int) (*Shrunk, error) {
	var doc yaml.MapSlice
	if err := yaml.UnmarshalWithOptions(text, &doc, yaml.UseOrderedMap()); err != nil {
		return nil, err
	}
	s := &Shrunk{}
	try := func(candidate yaml.MapSlice) (bool, error) {
		if s.Runs >= budget {
			return false, nil
		}
		s.Runs++
		out, err := yaml.MarshalWithOptions(candidate, yaml.IndentSequence(true))
		if err != nil {
			return false, err
		}
		sc, err := scenarios.Load(file, out)
		if err != nil {
			return false, nil // a candidate the schema refuses is simply not smaller
		}
		res, err := runner.Run(sc, runner.Options{Seed: sc.Seed})
		if err != nil {
			return false, err
		}
		for _, ch := range res.Checks {
			if ch.Checker == checker && !ch.OK() {
				s.Text, s.Scenario, s.Result = out, sc, res
				return true, nil
			}
		}
		return false, nil
	}
	fails, err := try(doc)
	if err != nil {
		return nil, err
	}
	if !fails {
		return nil, fmt.Errorf("%s: %w %s", file, ErrDoesNotFail, checker)
	}
	s.FaultsBefore = len(faultsOf(doc))
	s.DurationBefore = s.Scenario.Duration
	// Each fault keeps the name of its place in the file it came from
	// (F1, F2, ...), whatever the steps remove or reorder, so that the log
	// names one fault by one name.
	ids := make([]int, len(faultsOf(doc)))
	for i := range ids {
		ids[i] = i + 1
	}
	step := func(cand yaml.MapSlice, candIDs []int, what string) error {
		ok, err := try(cand)
		if ok {
			doc, ids = cand, candIDs
			s.Steps = append(s.Steps, what)
		}
		return err
	}
	// A fault timed to a protocol event is first pinned to the moment it
	// fired, if it still fails there: a plain time reads more easily and
	// moves with the other steps.
	tried := map[string]bool{}
	for again := true; again && s.Runs < budget; {
		again = false
		for i, f := range faultsOf(doc) {
			m, ok := f.(yaml.MapSlice)
			if !ok || !has(m, "after") || tried[textOf(m)] {
				continue
			}
			tried[textOf(m)], again = true, true
			if at, fired := firedAt(s.Result, m); fired {
				faults := slices.Clone(faultsOf(doc))
				faults[i] = with(without(without(m, "after"), "delay"), "at", seconds(at.Seconds()))
				sorted, sortedIDs := sortFaults(faults, ids)
				if err := step(withFaults(doc, sorted), sortedIDs, fmt.Sprintf("pinned fault F%d (%s) to %v, when it fired", ids[i], textOf(m), at.Round(time.Millisecond))); err != nil {
					return nil, err
				}
			}
			break
		}
	}
	for changed := true; changed && s.Runs < budget; {
		before := len(s.Steps)
		// Remove faults, the last first: later faults more often only
		// clean up after earlier ones.
		for i := len(faultsOf(doc)) - 1; i >= 0; i-- {
			f := faultsOf(doc)[i]
			cand := withFaults(doc, slices.Delete(slices.Clone(faultsOf(doc)), i, i+1))
			if err := step(cand, slices.Delete(slices.Clone(ids), i, i+1), fmt.Sprintf("removed fault F%d (%s)", ids[i], textOf(f))); err != nil {
				return nil, err
			}
		}
		// Shorten fault windows.
		for i, f := range faultsOf(doc) {
			m, ok := f.(yaml.MapSlice)
			if !ok {
				continue
			}
			d, has := durationAt(m, "for")
			if !has || d < time.Second {
				continue
			}
			faults := slices.Clone(faultsOf(doc))
			half := (d / 2).Round(time.Millisecond)
			faults[i] = with(m, "for", half.String())
			if err := step(withFaults(doc, faults), ids, fmt.Sprintf("shortened fault F%d (%s) to %v", ids[i], textOf(m), half)); err != nil {
				return nil, err
			}
		}
		// Move each fault halfway towards the one before: what matters is
		// often how close together they strike.
		for i := 1; i < len(faultsOf(doc)); i++ {
			prev, _ := faultsOf(doc)[i-1].(yaml.MapSlice)
			m, ok := faultsOf(doc)[i].(yaml.MapSlice)
			if !ok {
				continue
			}
			a, okA := durationAt(prev, "at")
			b, okB := durationAt(m, "at")
			if !okA || !okB || b-a < 20*time.Millisecond {
				continue
			}
			mid := a + ((b - a) / 2).Round(time.Millisecond)
			faults := slices.Clone(faultsOf(doc))
			faults[i] = with(m, "at", mid.String())
			if err := step(withFaults(doc, faults), ids, fmt.Sprintf("moved fault F%d (%s) to %v, %v after fault F%d", ids[i], textOf(m), mid, mid-a, ids[i-1])); err != nil {
				return nil, err
			}
		}
		// Lower the load.
		if cand, ok := halveRates(doc); ok {
			if err := step(cand, ids, "halved the producers' rates"); err != nil {
				return nil, err
			}
		}
		// Cut the run short after the last fault.
		if cand, ok := cutDuration(doc, s.Scenario); ok {
			if err := step(cand, ids, "cut the run short after the last fault"); err != nil {
				return nil, err
			}
		}
		changed = len(s.Steps) > before
	}
	// Return what the swarm drew to Kafka's defaults, one setting at a
	// time: what the failure needs is what stays.
	for _, key := range swarmProperties {
		cluster, _ := valueOf(doc, "cluster").(yaml.MapSlice)
		cfg, _ := valueOf(cluster, "config").(yaml.MapSlice)
		if !has(cfg, key) || s.Runs >= budget {
			continue
		}
		cand := with(doc, "cluster", with(cluster, "config", without(cfg, key)))
		if err := step(cand, ids, fmt.Sprintf("returned %s to Kafka's default", key)); err != nil {
			return nil, err
		}
	}
	s.FaultsAfter = len(faultsOf(doc))
	note := fmt.Sprintf("Shrunk from %s (its faults named F1, F2, ... in its order): %d faults (was %d), %v (was %v); %s still fails. %d runs:\n- %s",
		file, s.FaultsAfter, s.FaultsBefore, s.Scenario.Duration, s.DurationBefore, checker, s.Runs, strings.Join(s.Steps, "\n- "))
	for _, ch := range s.Result.Checks {
		if ch.Checker == checker && len(ch.Violations) > 0 {
			v := ch.Violations[0]
			note += "\n\n" + v.Kind + ": " + v.Message + "\n" + strings.Join(v.Story, "\n")
		}
	}
	doc = with(doc, "description", note)
	if s.Text, err = yaml.MarshalWithOptions(doc, yaml.IndentSequence(true), yaml.UseLiteralStyleIfMultiline(true)); err != nil {
		return nil, err
	}
	return s, nil
}

func faultsOf(doc yaml.MapSlice) []any {
	for _, it := range doc {
		if it.Key == "faults" {
			if l, ok := it.Value.([]any); ok {
				return l
			}
		}
	}
	return nil
}

func withFaults(doc yaml.MapSlice, faults []any) yaml.MapSlice { return with(doc, "faults", faults) }

// with returns a copy of m with key set to value.
func with(m yaml.MapSlice, key string, value any) yaml.MapSlice {
	out := slices.Clone(m)
	for i := range out {
		if out[i].Key == key {
			out[i].Value = value
			return out
		}
	}
	return append(out, yaml.MapItem{Key: key, Value: value})
}

func has(m yaml.MapSlice, key string) bool {
	return slices.ContainsFunc(m, func(it yaml.MapItem) bool { return it.Key == key })
}

// without returns a copy of m without key.
func without(m yaml.MapSlice, key string) yaml.MapSlice {
	return slices.DeleteFunc(slices.Clone(m), func(it yaml.MapItem) bool { return it.Key == key })
}

// textOf is a fault as its scenario line reads, for the shrink's steps.
func textOf(f any) string {
	m, ok := f.(yaml.MapSlice)
	if !ok {
		return fmt.Sprint(f)
	}
	var parts []string
	for _, it := range m {
		parts = append(parts, fmt.Sprintf("%v: %v", it.Key, it.Value))
	}
	return strings.Join(parts, ", ")
}

// firedAt finds when a fault timed to an event fired in a run, by its
// text: the run records every fault as it fires.
func firedAt(res *runner.Result, m yaml.MapSlice) (time.Duration, bool) {
	at, _ := durationAt(m, "at")
	after := fmt.Sprint(valueOf(m, "after"))
	for _, f := range res.Faults {
		if f.At >= at && strings.Contains(f.Text, " after "+after) {
			return f.At, true
		}
	}
	return 0, false
}

func valueOf(m yaml.MapSlice, key string) any {
	for _, it := range m {
		if it.Key == key {
			return it.Value
		}
	}
	return nil
}

// sortFaults orders faults by their time, as a scenario must list them.
// sortFaults puts faults in time order, their names with them.
func sortFaults(faults []any, ids []int) ([]any, []int) {
	order := make([]int, len(faults))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		ma, _ := faults[a].(yaml.MapSlice)
		mb, _ := faults[b].(yaml.MapSlice)
		x, _ := durationAt(ma, "at")
		y, _ := durationAt(mb, "at")
		return int(x - y)
	})
	sorted, sortedIDs := make([]any, len(faults)), make([]int, len(faults))
	for i, j := range order {
		sorted[i], sortedIDs[i] = faults[j], ids[j]
	}
	return sorted, sortedIDs
}

func durationAt(m yaml.MapSlice, key string) (time.Duration, bool) {
	for _, it := range m {
		if it.Key == key {
			if d, err := time.ParseDuration(fmt.Sprint(it.Value)); err == nil {
				return d, true
			}
		}
	}
	return 0, false
}

// halveRates halves every producer's rate, down to 10 records a second.
func halveRates(doc yaml.MapSlice) (yaml.MapSlice, bool) {
	var workload yaml.MapSlice
	for _, it := range doc {
		if it.Key == "workload" {
			workload, _ = it.Value.(yaml.MapSlice)
		}
	}
	var producers []any
	for _, it := range workload {
		if it.Key == "producers" {
			producers, _ = it.Value.([]any)
		}
	}
	changed := false
	next := make([]any, len(producers))
	for i, p := range producers {
		next[i] = p
		m, ok := p.(yaml.MapSlice)
		if !ok {
			continue
		}
		for _, it := range m {
			if it.Key != "rate" {
				continue
			}
			num, unit, found := strings.Cut(fmt.Sprint(it.Value), "/")
			n, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
			if found && err == nil && unit == "s" && n >= 20 {
				next[i] = with(m, "rate", fmt.Sprintf("%g/s", float64(int(n/2))))
				changed = true
			}
		}
	}
	if !changed {
		return nil, false
	}
	return with(doc, "workload", with(workload, "producers", next)), true
}

// cutDuration ends the run five seconds after the last fault plus the
// settle period, if that is shorter.
func cutDuration(doc yaml.MapSlice, sc *scenarios.Scenario) (yaml.MapSlice, bool) {
	last := time.Duration(0)
	for _, f := range sc.Faults {
		last = max(last, f.At+f.For)
	}
	want := (last + sc.Settle + 5*time.Second).Round(time.Second)
	if want >= sc.Duration {
		return nil, false
	}
	return with(doc, "duration", want.String()), true
}
