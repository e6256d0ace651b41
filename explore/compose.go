// Package explore finds the failures nobody imagined: it draws random fault
// schedules from seeds, runs them (in parallel, one world per worker),
// counts which protocol paths they reached, and shrinks a failing schedule
// to the fewest faults that still break the same promise.
package explore

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/tideline-sim/tideline/scenarios"
)

// Fault is one drawn fault, in the scenario file's own vocabulary, so that
// a failing seed can be written out as a scenario anyone can run.
type Fault struct {
	At     float64 // seconds
	Action string  // crash, pause, partition, ...
	Target string  // "broker-1", "leader(orders/0)"; for partition, the group cut off
	Rest   string  // for partition: the other side ("rest", or "[broker-1, broker-2]")
	Delay  string  // slow-link delay
	Loss   float64 // loss
	For    float64 // seconds; 0 for none
	// After names a protocol event the fault waits for from At
	// ("isr-expand(orders/0)"), AfterDelay how long after it (seconds).
	After      string
	AfterDelay float64
}

func seconds(s float64) string { return fmt.Sprintf("%gs", roundMillis(s)) }

func roundMillis(s float64) float64 { return float64(int64(s*1000+0.5)) / 1000 }

// item renders the fault as one entry of a scenario's faults list.
func (f Fault) item() yaml.MapSlice {
	m := yaml.MapSlice{{Key: "at", Value: seconds(f.At)}}
	switch f.Action {
	case "partition":
		m = append(m, yaml.MapItem{Key: "partition", Value: []any{[]string{f.Target}, f.Rest}})
	case "split":
		m = append(m, yaml.MapItem{Key: "partition", Value: []any{[]string{f.Target}, strings.Split(f.Rest, ",")}})
	case "slow-link":
		m = append(m, yaml.MapItem{Key: "slow-link", Value: yaml.MapSlice{{Key: "from", Value: []string{f.Target}}, {Key: "to", Value: []string{f.Rest}}, {Key: "delay", Value: f.Delay}}})
	case "loss":
		m = append(m, yaml.MapItem{Key: "loss", Value: f.Loss})
	case "reassign":
		var replicas []int
		for _, s := range strings.Split(f.Rest, ",") {
			n, _ := strconv.Atoi(s)
			replicas = append(replicas, n)
		}
		m = append(m, yaml.MapItem{Key: "reassign", Value: yaml.MapSlice{{Key: "partition", Value: f.Target}, {Key: "replicas", Value: replicas}}})
	default:
		m = append(m, yaml.MapItem{Key: f.Action, Value: f.Target})
	}
	if f.For > 0 {
		m = append(m, yaml.MapItem{Key: "for", Value: seconds(f.For)})
	}
	if f.After != "" {
		m = append(m, yaml.MapItem{Key: "after", Value: f.After})
		if f.AfterDelay > 0 {
			m = append(m, yaml.MapItem{Key: "delay", Value: seconds(f.AfterDelay)})
		}
	}
	return m
}

// Compose writes the base scenario with faults, name, seed and note
// replaced: a self-contained scenario file that reproduces the run.
func Compose(base *scenarios.Scenario, name, note string, seed uint64, faults []Fault, overrides map[string]any) ([]byte, error) {
	var doc yaml.MapSlice
	if err := yaml.UnmarshalWithOptions(base.Text, &doc, yaml.UseOrderedMap()); err != nil {
		return nil, fmt.Errorf("re-reading %s: %w", base.Name, err)
	}
	items := make([]yaml.MapSlice, len(faults))
	for i, f := range faults {
		items[i] = f.item()
	}
	set := func(key string, value any) {
		for i := range doc {
			if doc[i].Key == key {
				doc[i].Value = value
				return
			}
		}
		doc = append(doc, yaml.MapItem{Key: key, Value: value})
	}
	set("name", name)
	set("description", note)
	set("seed", seed)
	set("faults", items)
	for _, key := range sortedKeys(overrides) {
		if name, ok := strings.CutPrefix(key, "cluster.config:"); ok {
			setClusterConfig(&doc, name, overrides[key]) // a property name holds dots
			continue
		}
		// "a.b.0:name.with.dots": the path, then a key that holds dots.
		at, name, dotted := strings.Cut(key, ":")
		path := strings.Split(at, ".")
		if dotted {
			path = append(path, name)
		}
		setPath(&doc, path, overrides[key])
	}
	return yaml.MarshalWithOptions(doc, yaml.Flow(false), yaml.IndentSequence(true))
}

// setPath sets a nested key such as "duration" or "workload.producers.0.rate",
// making the maps on the way that the document lacks.
func setPath(doc *yaml.MapSlice, path []string, value any) {
	for i := range *doc {
		if (*doc)[i].Key != path[0] {
			continue
		}
		if len(path) == 1 {
			(*doc)[i].Value = value
			return
		}
		switch v := (*doc)[i].Value.(type) {
		case yaml.MapSlice:
			setPath(&v, path[1:], value)
			(*doc)[i].Value = v
		case []any:
			var n int
			if _, err := fmt.Sscan(path[1], &n); err == nil && n < len(v) && len(path) > 2 {
				if m, ok := v[n].(yaml.MapSlice); ok {
					setPath(&m, path[2:], value)
					v[n] = m
				}
			}
		}
		return
	}
	if len(path) == 1 {
		*doc = append(*doc, yaml.MapItem{Key: path[0], Value: value})
		return
	}
	if _, err := strconv.Atoi(path[1]); err != nil { // a missing map, not a list index
		var m yaml.MapSlice
		setPath(&m, path[1:], value)
		*doc = append(*doc, yaml.MapItem{Key: path[0], Value: m})
	}
}

// setClusterConfig sets one broker property under cluster.config.
func setClusterConfig(doc *yaml.MapSlice, name string, value any) {
	for i := range *doc {
		if (*doc)[i].Key != "cluster" {
			continue
		}
		c, _ := (*doc)[i].Value.(yaml.MapSlice)
		for j := range c {
			if c[j].Key == "config" {
				cfg, _ := c[j].Value.(yaml.MapSlice)
				c[j].Value = with(cfg, name, value)
				(*doc)[i].Value = c
				return
			}
		}
		(*doc)[i].Value = append(c, yaml.MapItem{Key: "config", Value: yaml.MapSlice{{Key: name, Value: value}}})
		return
	}
}
