package explore

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/tideline-sim/tideline/scenarios"
	"github.com/tideline-sim/tideline/sim"
)

// Kinds are the fault kinds exploration draws from.
var Kinds = []string{"crash", "pause", "isolate", "split", "slow-link", "loss", "controller", "power-loss"}

// Operations are drawn from a stream of their own, so that the faults
// above stay what they were on every seed: "stop" makes some drawn crashes
// orderly stops (a broker's controlled shutdown and clean restart, a
// controller's EndQuorumEpoch),
// "zone" cuts one rack off from everything else when the cluster has
// racks — an availability zone's outage — "reassign" moves a partition
// of the first topic to other brokers (KIP-455), and "consumer" hits
// consumer group members when the base has groups: a member crashes and
// restarts, pauses (missing its heartbeats and polls) or is cut off.
var Operations = []string{"stop", "zone", "reassign", "consumer"}

// Options shape the drawn schedules.
type Options struct {
	// Kinds limits the fault kinds drawn; empty means all.
	Kinds []string
	// BeyondClaims draws power loss too, which Kafka (no fsync by default)
	// does not claim to survive on every ISR member at once.
	BeyondClaims bool
	// Config sets broker properties on the base, e.g. an older
	// inter.broker.protocol.version, to find the bugs its fixes removed.
	Config map[string]string
	// BaseOnly draws faults only, on the base's cluster and settings (no
	// configuration swarm).
	BaseOnly bool
}

// Draw draws the fault schedule of one seed for the safety phase. Like
// swarm testing, each seed first enables a random subset of the fault
// kinds, so that some seeds hammer one kind and others mix them. Kafka's
// safety promise (acks=all, min.insync.replicas ≥ 2, no unclean election)
// holds under any number of overlapping crashes, pauses, partitions and bad
// links, so faults overlap, follow each other within milliseconds, and —
// on half the seeds — wait for a protocol event (an ISR change, an
// election) to strike within tens of milliseconds of it, where one fault at
// a time, seconds apart, never lands. Power loss is drawn only beyond the
// claims. Liveness is judged only on the seeds whose faults came one at a
// time (LivenessClaimed).
func Draw(base *scenarios.Scenario, seed uint64, o Options) []Fault {
	r := sim.Seed(seed).Stream("explore/faults")
	kinds := slices.DeleteFunc(slices.Clone(o.Kinds), func(k string) bool { return slices.Contains(Operations, k) })
	if len(o.Kinds) == 0 {
		kinds = Kinds
	}
	if !o.BeyondClaims {
		kinds = slices.DeleteFunc(slices.Clone(kinds), func(k string) bool { return k == "power-loss" })
	}
	var enabled []string
	for _, k := range kinds {
		if r.IntN(2) == 0 {
			enabled = append(enabled, k)
		}
	}
	if len(enabled) == 0 && len(kinds) > 0 {
		enabled = []string{kinds[r.IntN(len(kinds))]}
	}
	if len(enabled) == 0 {
		return drawOperations(base, seed, o, nil)
	}
	timed := r.IntN(2) == 0
	start, end := 3.0, base.FaultWindowEnd().Seconds()
	var faults []Fault
	t := start + r.Float64()*3
	for n := 1 + r.IntN(8); n > 0 && t < end-1; n-- {
		length := min(0.5+r.Float64()*12, end-t)
		f := drawOne(r, base, seed, enabled[r.IntN(len(enabled))], t, length)
		if timed && len(faults) > 0 && r.IntN(2) == 0 {
			// Armed when the previous fault strikes, it waits for what
			// that fault sets off (a fencing, an election, the ISR
			// shrinking or taking the broker back) and lands within 50 ms.
			prev := faults[len(faults)-1]
			f.At, f.For = prev.At, roundMillis(min(f.For, 0.5+r.Float64()*3))
			f.After, f.AfterDelay = drawTrigger(r, base, prev), roundMillis(r.Float64()*0.05)
		}
		faults = append(faults, f)
		switch r.IntN(4) {
		case 0:
			t += roundMillis(r.Float64() * 0.1) // close behind it
		case 1:
			t += length + 0.5 + r.Float64()*3 // after it
		default:
			t += r.Float64() * length * 1.5 // overlapping it
		}
	}
	return drawOperations(base, seed, o, faults)
}

// drawOperations draws the operations onto faults: each crash, of a broker
// or a controller, becomes an orderly stop on one seed in three, and on half the seeds of a
// cluster with racks one rack is cut off from the rest for a while.
func drawOperations(base *scenarios.Scenario, seed uint64, o Options, faults []Fault) []Fault {
	r := sim.Seed(seed).Stream("explore/operations")
	drawn := func(op string) bool { return len(o.Kinds) == 0 || slices.Contains(o.Kinds, op) }
	for i, f := range faults {
		if f.Action == "crash" && r.IntN(3) == 0 && drawn("stop") {
			faults[i].Action = "stop"
		}
	}
	racks := base.Cluster.RackNames()
	start, end := 3.0, base.FaultWindowEnd().Seconds()
	if len(racks) > 0 && r.IntN(2) == 0 && drawn("zone") && end-start > 1 {
		at := roundMillis(start + r.Float64()*(end-start-1))
		zone := Fault{At: at, For: roundMillis(min(0.5+r.Float64()*12, end-at)), Action: "partition", Target: fmt.Sprintf("rack(%s)", racks[r.IntN(len(racks))]), Rest: "rest"}
		faults = insertByTime(faults, zone)
	}
	if len(base.Cluster.Topics) > 0 && r.IntN(4) == 0 && drawn("reassign") && end-start > 1 {
		// A partition of the first topic moves to RF brokers drawn at
		// random (some of them may be where it is).
		t := base.Cluster.Topics[0]
		brokers := r.Perm(base.Cluster.Brokers)[:t.ReplicationFactor]
		var replicas []string
		for _, b := range brokers {
			replicas = append(replicas, fmt.Sprint(b))
		}
		move := Fault{At: roundMillis(start + r.Float64()*(end-start-1)), Action: "reassign",
			Target: fmt.Sprintf("%s/%d", t.Name, r.IntN(t.Partitions)), Rest: strings.Join(replicas, ",")}
		faults = insertByTime(faults, move)
	}
	if members := groupMembers(base); len(members) > 0 && drawn("consumer") && end-start > 1 {
		rc := sim.Seed(seed).Stream("explore/consumers")
		for n := rc.IntN(3); n > 0; n-- {
			at := roundMillis(start + rc.Float64()*(end-start-1))
			f := Fault{At: at, For: roundMillis(min(0.5+rc.Float64()*15, end-at)), Action: []string{"crash", "pause", "isolate"}[rc.IntN(3)],
				Target: fmt.Sprintf("consumer-%d", members[rc.IntN(len(members))])}
			faults = insertByTime(faults, f)
		}
	}
	return faults
}

// groupMembers lists the consumers of base that are consumer group members.
func groupMembers(base *scenarios.Scenario) []int {
	var out []int
	for i, c := range base.Cluster.Consumers {
		if c.GroupID != "" {
			out = append(out, i)
		}
	}
	return out
}

// insertByTime inserts f among faults sorted by time, after those at the
// same time.
func insertByTime(faults []Fault, f Fault) []Fault {
	i, _ := slices.BinarySearchFunc(faults, f.At, func(g Fault, at float64) int {
		if g.At <= at {
			return -1
		}
		return 1
	})
	return slices.Insert(faults, i, f)
}

// LivenessClaimed reports whether a schedule stays within what Kafka
// claims to recover from — one fault in force at a time, none timed to an
// event (its moment is not known in advance), no power loss — so that a
// partition without a leader or a full ISR after the settle period is a
// failure and not the expected price of the faults.
func LivenessClaimed(faults []Fault) bool {
	for i, f := range faults {
		if f.After != "" || f.Action == "power-loss" {
			return false
		}
		if i > 0 && f.At < faults[i-1].At+faults[i-1].For {
			return false
		}
	}
	return true
}

// drawTrigger picks a protocol event that the fault before sets off: the
// ISR shrinking and the broker fenced or its partitions' leaders elected
// while it is down or cut off, the ISR taking it back when it returns; of
// the partition it leads or follows when it was named by role.
func drawTrigger(r *rand.Rand, base *scenarios.Scenario, prev Fault) string {
	events := []string{"isr-shrink", "isr-expand", "leader-elected", "became-leader", "broker-fenced", "truncated"}
	switch prev.Action {
	case "crash", "isolate", "split", "partition", "pause", "power-loss":
		events = []string{"isr-shrink", "isr-expand", "leader-elected", "broker-fenced"}
	case "slow-link":
		events = []string{"isr-shrink", "isr-expand"}
	}
	e := events[r.IntN(len(events))]
	if e == "broker-fenced" || len(base.Cluster.Topics) == 0 {
		return e
	}
	if open := strings.IndexByte(prev.Target, '('); open >= 0 {
		return e + prev.Target[open:] // the same partition
	}
	t := base.Cluster.Topics[0]
	return fmt.Sprintf("%s(%s/%d)", e, t.Name, r.IntN(t.Partitions))
}

func drawOne(r *rand.Rand, base *scenarios.Scenario, seed uint64, kind string, at, length float64) Fault {
	brokers := base.Cluster.Brokers
	target := randomTarget(r, base)
	f := Fault{At: at, For: length, Target: target}
	switch kind {
	case "crash", "pause", "isolate", "power-loss":
		f.Action = kind
	case "split":
		// Cut one broker from the other brokers only: it keeps its
		// controller and its clients, as a zombie leader does.
		f.Action = "split"
		var others []string
		for b := range brokers {
			if name := fmt.Sprintf("broker-%d", b); name != target {
				others = append(others, name)
			}
		}
		if len(others) == 0 {
			f.Action = "isolate"
		}
		f.Rest = strings.Join(others, ",")
		if strings.HasPrefix(target, "leader(") || strings.HasPrefix(target, "follower(") {
			f.Action, f.Rest = "partition", "rest" // a role target cannot be excluded by name
		}
	case "slow-link":
		f.Action, f.Rest = "slow-link", "rest"
		f.Delay = fmt.Sprintf("%dms", 50*(1+r.IntN(40)))
	case "loss":
		f.Action, f.Target = "loss", ""
		f.Loss = roundMillis(0.05 + r.Float64()*0.3)
	case "controller":
		f.Action, f.Target = "crash", "controller"
		if n := base.Cluster.Controllers; n > 1 {
			// Within the claims a minority of a quorum fails: one
			// controller a seed (drawn apart from the main stream, so that a
			// lone controller's schedules stay as they were), which crashes,
			// pauses or is cut off.
			f.Action = []string{"crash", "pause", "isolate"}[r.IntN(3)]
			f.Target = fmt.Sprintf("controller-%d", sim.Seed(seed).Stream("explore/controller").IntN(n))
		}
	}
	return f
}

// randomTarget picks a broker by name or by role.
func randomTarget(r *rand.Rand, base *scenarios.Scenario) string {
	var topic string
	parts := 1
	if len(base.Cluster.Topics) > 0 {
		topic, parts = base.Cluster.Topics[0].Name, base.Cluster.Topics[0].Partitions
	}
	switch r.IntN(3) {
	case 0:
		if topic != "" {
			return fmt.Sprintf("leader(%s/%d)", topic, r.IntN(parts))
		}
	case 1:
		if topic != "" && base.Cluster.Topics[0].ReplicationFactor > 1 {
			return fmt.Sprintf("follower(%s/%d)", topic, r.IntN(parts))
		}
	}
	return fmt.Sprintf("broker-%d", r.IntN(base.Cluster.Brokers))
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
