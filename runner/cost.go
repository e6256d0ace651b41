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
// an upper bound fitted to measured runs (3-100 brokers, 3-100,000
// partitions, 100-10,000 records/s): 14 events a second for every fetch
// session (a follower broker and a leader broker), 7 for every follower
// replica it holds, 8 for every partition a standalone consumer
// long-polls, 6 events per record produced plus 2 per follower and per
// consumer that carry it; and, live at the end, about 25 kB a partition,
// 24 bytes per record per replica (the batches the replicas share, their
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
	topics := sc.Cluster.Topics
	if t, ok := sc.Cluster.OffsetsTopic(); ok {
		topics = append(slices.Clip(topics), t) // replicated whether groups use it or not
	}
	var records, followerReplicas, partitions float64
	for _, t := range topics {
		followerReplicas += float64(t.Partitions * max(t.ReplicationFactor-1, 0))
		partitions += float64(t.Partitions)
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
		followerReplicas += added
		events += added * records * 2
		memory += added * records * 24
	}
	// Followers fetch in sessions, one per follower broker and leader
	// broker (KIP-227): an idle session's long poll is about 14 events a
	// second (the request, its re-sends while it waits, the answer),
	// however many partitions it holds, and each of those partitions costs
	// the leader a check and the follower an entry on every fetch: twice a
	// second when idle, and again for each follower's answer a write wakes.
	// Counted in events' worth of work, fitted above what was measured
	// (TestEstimateBoundsPartitionHeavyClusters); a standalone consumer
	// long-polls each partition on its own; the report and the process
	// cost a fixed two million.
	brokers := float64(sc.Cluster.Brokers)
	pairs := min(followerReplicas, brokers*(brokers-1))
	perSession := followerReplicas / max(pairs, 1)
	events += 2e6 + seconds*(20*pairs+10*followerReplicas+8*partitions*consumers)
	for _, p := range sc.Cluster.Producers {
		if t, ok := sc.Cluster.Topic(p.Topic); ok {
			events += 0.4 * p.Rate * seconds * float64(max(t.ReplicationFactor-1, 0)) * perSession
		}
	}
	// Live: about 25 kB a partition (its replicas, logs, states and the
	// monitor's views), a megabyte a broker and 10 kB a fetch session
	// (their pools, sessions and fetchers), and the metadata log's records, each the whole
	// state sharing what it did not change (protocol.PartitionTable): a
	// chunk index, and a copied chunk for each partition a commit changed
	// — two for each partition a fault moves off or back onto a broker,
	// and a NoOp record twice a second.
	const chunk, stateBytes = 128, 120
	index := 8 * partitions / chunk
	var rf float64 = 1
	for _, t := range topics {
		rf = max(rf, float64(t.ReplicationFactor))
	}
	moved := min(partitions, 2*partitions*rf/brokers)
	commits := partitions + 2*seconds + 4*moved*float64(len(sc.Faults))
	memory += 25e3*partitions + 1e6*brokers + 10e3*pairs + commits*(index+chunk*stateBytes)
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
