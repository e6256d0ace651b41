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
	for changed := true; changed && s.Runs < budget; {
		changed = false
		// Remove faults, the last first: later faults more often only
		// clean up after earlier ones.
		for i := len(faultsOf(doc)) - 1; i >= 0; i-- {
			cand := withFaults(doc, slices.Delete(slices.Clone(faultsOf(doc)), i, i+1))
			if ok, err := try(cand); err != nil {
				return nil, err
			} else if ok {
				doc, changed = cand, true
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
			faults[i] = with(m, "for", (d / 2).Round(time.Millisecond).String())
			cand := withFaults(doc, faults)
			if ok, err := try(cand); err != nil {
				return nil, err
			} else if ok {
				doc, changed = cand, true
			}
		}
		// Lower the load.
		if cand, ok := halveRates(doc); ok {
			if ok, err := try(cand); err != nil {
				return nil, err
			} else if ok {
				doc, changed = cand, true
			}
		}
		// Cut the run short after the last fault.
		if cand, ok := cutDuration(doc, s.Scenario); ok {
			if ok, err := try(cand); err != nil {
				return nil, err
			} else if ok {
				doc, changed = cand, true
			}
		}
	}
	s.FaultsAfter = len(faultsOf(doc))
	note := fmt.Sprintf("Shrunk from %s: %d faults (was %d), %v (was %v); %s still fails. %d runs.",
		file, s.FaultsAfter, s.FaultsBefore, s.Scenario.Duration, s.DurationBefore, checker, s.Runs)
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
