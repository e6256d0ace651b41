package runner

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tideline-sim/tideline/scenarios"
)

// The default caps on a run's estimated cost: about half a minute of one
// core and a sixth of this class of machine's memory. -max-events and
// -max-memory raise them for a run that needs more.
const (
	DefaultMaxEvents = 50_000_000
	DefaultMaxMemory = 4 << 30
)

// GCPercent is the collector's target simulate runs with, trading memory
// for speed: a run's garbage is short-lived, so collecting a quarter as
// often saves a sixth of the wall time. The memory limit (the run's
// estimate) bounds what that costs: past it the collector runs as often as
// needed, so a long run's memory follows what it keeps, not 5x that.
const GCPercent = 400

// Cost is what a run is estimated to take, before it runs. The estimate is
// an upper bound fitted to measured runs (3-5 brokers, 3-30 partitions,
// 100-1000 records/s): 12 events a second for every replica of a partition
// (fetch long-polls, heartbeats), 6 events per record produced plus 2 per
// follower and per consumer that carry it; and, live at the end, about 24
// bytes per record per replica (the batches the replicas share, their
// indexes), 30 per record per client that saw it (the encoded history) and
// 50 for the checkers' indexes (BenchmarkSoak measures the simulation's
// part), with half as much again for the collector. simulate makes the
// estimate the collector's memory limit (within the cap): a long run's
// heap follows what it keeps.
type Cost struct {
	Events      int64
	MemoryBytes int64
}

// ErrTooCostly is returned, wrapped in a CostError, for a scenario whose
// estimated cost is past a cap.
var ErrTooCostly = errors.New("the scenario is estimated to cost more than allowed")

// CostError names what is too large.
type CostError struct {
	Estimate Cost
	What     string // "events" or "memory"
	Cap      int64
}

func (e *CostError) Error() string {
	if e.What == "memory" {
		return fmt.Sprintf("estimated memory %.1f GiB is past the cap of %.1f GiB (raise it with -max-memory)", gib(e.Estimate.MemoryBytes), gib(e.Cap))
	}
	return fmt.Sprintf("estimated %d events is past the cap of %d (raise it with -max-events)", e.Estimate.Events, e.Cap)
}

func (e *CostError) Unwrap() error { return ErrTooCostly }

func gib(n int64) float64 { return float64(n) / (1 << 30) }

// Estimate is the cost of running sc for duration (0: its own).
func Estimate(sc *scenarios.Scenario, duration time.Duration) Cost {
	if duration <= 0 {
		duration = sc.Duration
	}
	seconds := duration.Seconds()
	var replicas, records float64
	topics := sc.Cluster.Topics
	if t, ok := sc.Cluster.OffsetsTopic(); ok {
		topics = append(slices.Clip(topics), t) // replicated whether groups use it or not
	}
	for _, t := range topics {
		replicas += float64(t.Partitions * t.ReplicationFactor)
	}
	// Standalone consumers read every record; a group reads each once,
	// whatever its size (members, groups: per topic).
	var consumers, members float64
	groupsOf := map[string]map[string]bool{} // topic -> groups
	for _, c := range sc.Cluster.Consumers {
		if c.GroupID == "" {
			consumers++
			continue
		}
		members++
		if groupsOf[c.Topic] == nil {
			groupsOf[c.Topic] = map[string]bool{}
		}
		groupsOf[c.Topic][c.GroupID] = true
	}
	var events float64
	var memory float64 = 64 << 20 // the program itself
	for _, p := range sc.Cluster.Producers {
		rf := 1.0
		for _, t := range sc.Cluster.Topics {
			if t.Name == p.Topic {
				rf = float64(t.ReplicationFactor)
			}
		}
		stop := p.Stop
		if stop <= 0 || stop > duration {
			stop = duration
		}
		n := p.Rate * max(stop-p.Start, 0).Seconds()
		records += n
		// A group's record: fetched, polled, processed, and at worst a
		// commit of its own, replicated in __consumer_offsets.
		groups := float64(len(groupsOf[p.Topic]))
		events += n * (6 + 2*(rf-1) + 2*consumers + 12*groups)
		memory += n * (24*rf + 30*(1+consumers+groups) + 30*(1+groups))
	}
	// Members heartbeat and long-poll every partition of their topic.
	for _, topic := range slices.Sorted(maps.Keys(groupsOf)) { // a float sum: in one order always
		if t, ok := sc.Cluster.Topic(topic); ok {
			events += seconds * 4 * float64(t.Partitions*len(groupsOf[topic]))
		}
	}
	events += seconds * members
	// A reassignment adds replicas (while it moves a partition has its
	// old and its new ones), and each new one may copy every record.
	for _, f := range sc.Faults {
		if f.Kind != scenarios.Reassign {
			continue
		}
		added := float64(len(f.Replicas))
		if f.Off >= 0 {
			added = float64(sc.Cluster.Partitions()) // one replica moved per partition at most
		}
		replicas += added
		events += added * records * 2
		memory += added * records * 24
	}
	events += seconds * (12*replicas + 2*float64(sc.Cluster.Brokers))
	// Metadata is copied whole: every broker's metadata fetch and every
	// client's metadata answer clones the image of every partition, and a
	// broker's per-partition work grows with the brokers it serves, so a
	// partition-heavy cluster costs more per event (issue 28 will make
	// this grow with what changes). Counted in events' worth of work,
	// fitted above what was measured (60 s, 500 records/s, RF 3, one
	// crash and restart; /usr/bin/time simulate -q): 3 brokers with 1,000
	// / 2,000 / 3,000 partitions took 2.1 / 8.5 / 26 s and 271 / 606 /
	// 1,309 MB; 10 brokers with 300 / 1,000 took 1.4 / 3.4 s.
	partitions := float64(sc.Cluster.Partitions())
	if t, ok := sc.Cluster.OffsetsTopic(); ok {
		partitions += float64(t.Partitions)
	}
	events += seconds * (0.1*partitions*partitions + 8*float64(sc.Cluster.Brokers)*partitions)
	memory += 200e3*partitions + 100*partitions*partitions
	// The collector needs room beyond what is live; the checkers' working
	// memory comes on top at the end.
	return Cost{Events: saturate(events), MemoryBytes: saturate(1.5 * memory)}
}

// saturate converts an estimate to an int64 without wrapping: a scenario
// whose cost overflows is refused as too costly, never let through as a
// negative number.
func saturate(x float64) int64 {
	if !(x < math.MaxInt64) { // NaN too
		return math.MaxInt64
	}
	return int64(x)
}

// CheckCost refuses a run of sc for duration past the caps (0: the
// defaults), before anything runs.
func CheckCost(sc *scenarios.Scenario, duration time.Duration, maxEvents, maxMemory int64) error {
	return checkCost(Estimate(sc, duration), maxEvents, maxMemory)
}

// checkCost refuses a run past the caps (0 means the default).
func checkCost(c Cost, maxEvents, maxMemory int64) error {
	if maxEvents <= 0 {
		maxEvents = DefaultMaxEvents
	}
	if maxMemory <= 0 {
		maxMemory = DefaultMaxMemory
	}
	switch {
	case c.Events > maxEvents:
		return &CostError{Estimate: c, What: "events", Cap: maxEvents}
	case c.MemoryBytes > maxMemory:
		return &CostError{Estimate: c, What: "memory", Cap: maxMemory}
	}
	return nil
}

// ParseSize reads a size such as 4GiB, 512MiB or a number of bytes, for
// -max-memory.
func ParseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		n      int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = rest, u.n
			break
		}
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	bytes := n * float64(mult)
	// NaN, Inf and sizes too small to hold a run are mistakes, not caps.
	if err != nil || !(bytes >= 1<<20 && bytes <= 1<<50) {
		return 0, fmt.Errorf("want a size from 1MiB to 1PiB, such as 8GiB or 512MiB")
	}
	return int64(bytes), nil
}

// QuickEvents bounds the built-ins that `check` runs by default and the
// tests run on every seed: a soak longer than this runs when named.
const QuickEvents = 10_000_000

// QuickBuiltins lists the built-in scenarios estimated within QuickEvents.
func QuickBuiltins() []string {
	var names []string
	for _, name := range scenarios.BuiltinNames() {
		if sc, err := scenarios.Builtin(name); err == nil && Estimate(sc, 0).Events <= QuickEvents {
			names = append(names, name)
		}
	}
	return names
}
