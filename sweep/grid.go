// Package sweep runs a grid of settings over a scenario and many seeds —
// the what-if table of a design review: which settings buy what in lost
// writes, availability, outages, latency and throughput.
package sweep

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/explore"
	"github.com/tideline-sim/tideline/internal/suggest"
	"github.com/tideline-sim/tideline/scenarios"
)

// Faults is the pseudo-property that varies the fault schedule: each value
// is none, drawn (explore's faults, drawn anew for every seed) or a
// scenario (built-in name or file) whose faults are taken.
const Faults = "faults"

// Topic-level fields that are not configuration properties but are varied
// all the same.
var topicFields = []string{"partitions", "replication.factor"}

// Limits on a grid: a sweep is a table a person reads.
const (
	MaxAxes      = 8
	MaxValues    = 16
	MaxCells     = 256
	MaxSeeds     = 10000
	MaxRunsTotal = 100000
)

// Axis is one varied setting and its values, in the order given.
type Axis struct {
	Property string   `json:"property"`
	Values   []string `json:"values"`
}

func (a Axis) String() string { return a.Property + "=" + strings.Join(a.Values, ",") }

// ParseAxis reads property=v1,v2,...
func ParseAxis(s string) (Axis, error) {
	name, values, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.TrimSpace(values) == "" {
		return Axis{}, fmt.Errorf("-vary %q: want property=value1,value2", s)
	}
	a := Axis{Property: name}
	for _, v := range strings.Split(values, ",") {
		v = strings.TrimSpace(v)
		if v == "" {
			return Axis{}, fmt.Errorf("-vary %q: an empty value", s)
		}
		if slices.Contains(a.Values, v) {
			return Axis{}, fmt.Errorf("-vary %q: %s twice", s, v)
		}
		a.Values = append(a.Values, v)
	}
	if len(a.Values) > MaxValues {
		return Axis{}, fmt.Errorf("-vary %q: %d values, at most %d", s, len(a.Values), MaxValues)
	}
	return a, nil
}

// Grid is a sweep: a base scenario, the axes varied over it, and seeds
// 1..Seeds for every cell.
type Grid struct {
	Base  *scenarios.Scenario
	Axes  []Axis
	Seeds int
}

// Cell is one combination of the axes' values: Values[i] is Axes[i]'s.
type Cell struct {
	Index  int
	Values []string
}

// Name is the cell's settings, e.g. "acks=1 min.insync.replicas=2".
func (g *Grid) Name(c Cell) string {
	parts := make([]string, len(c.Values))
	for i, v := range c.Values {
		parts[i] = g.Axes[i].Property + "=" + v
	}
	return strings.Join(parts, " ")
}

// Cells lists every combination, the last axis varying fastest.
func (g *Grid) Cells() []Cell {
	cells := []Cell{{}}
	for _, a := range g.Axes {
		var next []Cell
		for _, c := range cells {
			for _, v := range a.Values {
				next = append(next, Cell{Values: append(slices.Clone(c.Values), v)})
			}
		}
		cells = next
	}
	for i := range cells {
		cells[i].Index = i
	}
	return cells
}

// Validate checks the grid as a scenario is checked: every property known
// (with a did-you-mean), every value valid on its own over the base, and
// the grid within its limits. A combination that is invalid only as a
// whole (min.insync.replicas above replication.factor, say) is not an
// error: its cell is reported as not run, with the reason.
func (g *Grid) Validate() error {
	if len(g.Axes) == 0 {
		return fmt.Errorf("nothing to vary: give -vary property=value1,value2 at least once")
	}
	if len(g.Axes) > MaxAxes {
		return fmt.Errorf("%d -vary axes, at most %d", len(g.Axes), MaxAxes)
	}
	if g.Seeds < 1 || g.Seeds > MaxSeeds {
		return fmt.Errorf("-seeds %d: want 1 to %d", g.Seeds, MaxSeeds)
	}
	cells := 1
	for i, a := range g.Axes {
		for _, b := range g.Axes[:i] {
			if a.Property == b.Property {
				return fmt.Errorf("-vary %s given twice", a.Property)
			}
		}
		if err := known(a.Property); err != nil {
			return err
		}
		cells *= len(a.Values)
	}
	if cells > MaxCells {
		return fmt.Errorf("the grid has %d cells, at most %d", cells, MaxCells)
	}
	if cells*g.Seeds > MaxRunsTotal {
		return fmt.Errorf("%d cells x %d seeds is %d runs, at most %d", cells, g.Seeds, cells*g.Seeds, MaxRunsTotal)
	}
	for _, a := range g.Axes {
		for _, v := range a.Values {
			if err := checkValue(a.Property, v); err != nil {
				return fmt.Errorf("-vary %s=%s: %w", a.Property, v, err)
			}
		}
	}
	// A combination may be invalid as a whole; a grid where every one is
	// is a mistake.
	var first error
	for _, c := range g.Cells() {
		_, err := g.Scenario(c, 1)
		if err == nil {
			return nil
		}
		first = cmp.Or(first, err)
	}
	return fmt.Errorf("no cell of the grid can run: %w", first)
}

// checkValue checks one value of a property on its own, as the
// configuration that takes it would.
func checkValue(property, value string) error {
	if property == Faults {
		_, _, err := faultsFor(value)
		return err
	}
	if slices.Contains(topicFields, property) {
		if n, err := strconv.Atoi(value); err != nil || n < 1 {
			return fmt.Errorf("want a whole number from 1")
		}
		return nil
	}
	for _, kind := range config.PropertyKinds(property) {
		var err error
		switch kind {
		case "broker":
			c := config.DefaultBrokerConfig()
			err = c.Set(property, value)
		case "topic":
			var t config.TopicConfig
			err = t.Set(property, value)
		case "producer":
			p := config.DefaultProducerConfig("")
			err = p.Set(property, value)
		case "consumer":
			c := config.DefaultConsumerConfig("")
			err = c.Set(property, value)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func known(property string) error {
	if property == Faults || slices.Contains(topicFields, property) || len(config.PropertyKinds(property)) > 0 {
		return nil
	}
	all := append(config.AllProperties(), append(topicFields, Faults)...)
	if best := suggest.Nearest(property, all); best != "" {
		return fmt.Errorf("-vary: unknown property %q (did you mean %q?)", property, best)
	}
	return fmt.Errorf("-vary: unknown property %q: give a broker, topic, producer or consumer property, partitions, replication.factor or faults", property)
}

// Scenario is the base with the cell's settings, for one seed (drawn
// faults differ by seed), or the reason the combination cannot run.
func (g *Grid) Scenario(c Cell, seed uint64) (*scenarios.Scenario, error) {
	return g.compose(g.Axes, c.Values, seed)
}

func (g *Grid) compose(axes []Axis, values []string, seed uint64) (*scenarios.Scenario, error) {
	var doc yaml.MapSlice
	if err := yaml.UnmarshalWithOptions(g.Base.Text, &doc, yaml.UseOrderedMap()); err != nil {
		return nil, fmt.Errorf("re-reading %s: %w", g.Base.Name, err)
	}
	varied := map[string]bool{}
	for _, a := range axes {
		varied[a.Property] = true
	}
	var drawn bool
	for i, a := range axes {
		v := values[i]
		if a.Property == Faults {
			items, isDrawn, err := faultsFor(v)
			if err != nil {
				return nil, err
			}
			drawn = isDrawn
			doc = with(doc, "faults", items)
			continue
		}
		doc = apply(doc, a.Property, v, varied)
	}
	doc = with(doc, "name", g.Base.Name)
	text, err := yaml.MarshalWithOptions(doc, yaml.Flow(false), yaml.IndentSequence(true))
	if err != nil {
		return nil, err
	}
	sc, err := scenarios.Load(g.Base.Name+" (sweep cell)", text)
	if err != nil {
		return nil, err
	}
	if drawn {
		return explore.Scenario(sc, seed, explore.Draw(sc, seed, explore.Options{}), nil)
	}
	return sc, nil
}

// faultsFor is a fault schedule by name.
func faultsFor(v string) (items []any, drawn bool, err error) {
	switch v {
	case "none":
		return []any{}, false, nil
	case "drawn":
		return []any{}, true, nil
	}
	sc, err := scenarios.Open(v)
	if err != nil {
		return nil, false, fmt.Errorf("faults %q: want none, drawn, or a scenario whose faults to take: %w", v, err)
	}
	var doc yaml.MapSlice
	if err := yaml.UnmarshalWithOptions(sc.Text, &doc, yaml.UseOrderedMap()); err != nil {
		return nil, false, err
	}
	for _, item := range doc {
		if item.Key == "faults" {
			list, _ := item.Value.([]any)
			return list, false, nil
		}
	}
	return []any{}, false, nil
}

// apply sets one property wherever it applies: every topic for topic
// properties and fields, the cluster's config for broker properties, every
// producer or consumer for client properties.
func apply(doc yaml.MapSlice, property, value string, varied map[string]bool) yaml.MapSlice {
	v := typed(value)
	kinds := config.PropertyKinds(property)
	if slices.Contains(topicFields, property) || slices.Contains(kinds, "topic") {
		doc = edit(doc, "cluster", func(c yaml.MapSlice) yaml.MapSlice {
			return editList(c, "topics", func(t yaml.MapSlice) yaml.MapSlice {
				if slices.Contains(topicFields, property) {
					return with(t, property, v)
				}
				return edit(t, "config", func(cfg yaml.MapSlice) yaml.MapSlice { return with(cfg, property, v) })
			})
		})
	}
	if slices.Contains(kinds, "broker") {
		doc = edit(doc, "cluster", func(c yaml.MapSlice) yaml.MapSlice {
			return edit(c, "config", func(cfg yaml.MapSlice) yaml.MapSlice { return with(cfg, property, v) })
		})
	}
	if slices.Contains(kinds, "producer") {
		doc = edit(doc, "workload", func(w yaml.MapSlice) yaml.MapSlice {
			return editList(w, "producers", func(p yaml.MapSlice) yaml.MapSlice {
				switch property {
				case "acks":
					// As Kafka: idempotence needs acks=all. Unless the grid
					// varies it too, a producer that asked for it gets
					// Kafka's default for its acks instead.
					if value != "all" && value != "-1" && !varied["enable.idempotence"] {
						p = without(p, "enable.idempotence")
					}
					return with(p, property, v)
				case "enable.idempotence":
					return with(p, property, v)
				}
				return edit(p, "config", func(cfg yaml.MapSlice) yaml.MapSlice { return with(cfg, property, v) })
			})
		})
	}
	if slices.Contains(kinds, "consumer") {
		doc = edit(doc, "workload", func(w yaml.MapSlice) yaml.MapSlice {
			return editList(w, "consumers", func(c yaml.MapSlice) yaml.MapSlice {
				return edit(c, "config", func(cfg yaml.MapSlice) yaml.MapSlice { return with(cfg, property, v) })
			})
		})
	}
	return doc
}

// typed turns a value into what a scenario file would hold: a number or
// a boolean where it reads as one.
func typed(s string) any {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n
	}
	if b, err := strconv.ParseBool(s); err == nil && (s == "true" || s == "false") {
		return b
	}
	return s
}

func with(m yaml.MapSlice, key string, value any) yaml.MapSlice {
	for i := range m {
		if m[i].Key == key {
			m[i].Value = value
			return m
		}
	}
	return append(m, yaml.MapItem{Key: key, Value: value})
}

func without(m yaml.MapSlice, key string) yaml.MapSlice {
	return slices.DeleteFunc(m, func(item yaml.MapItem) bool { return item.Key == key })
}

// edit applies f to the map under key, creating it if missing.
func edit(m yaml.MapSlice, key string, f func(yaml.MapSlice) yaml.MapSlice) yaml.MapSlice {
	for i := range m {
		if m[i].Key == key {
			sub, _ := m[i].Value.(yaml.MapSlice)
			m[i].Value = f(sub)
			return m
		}
	}
	return append(m, yaml.MapItem{Key: key, Value: f(nil)})
}

// editList applies f to every map in the list under key.
func editList(m yaml.MapSlice, key string, f func(yaml.MapSlice) yaml.MapSlice) yaml.MapSlice {
	for i := range m {
		if m[i].Key != key {
			continue
		}
		list, _ := m[i].Value.([]any)
		for j := range list {
			if item, ok := list[j].(yaml.MapSlice); ok {
				list[j] = f(item)
			}
		}
		m[i].Value = list
	}
	return m
}
