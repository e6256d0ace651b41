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

// Options shape the drawn schedules.
type Options struct {
	// Kinds limits the fault kinds drawn; empty means all.
	Kinds []string
	// BeyondClaims lifts the limit to what the configuration claims to
	// survive: faults may overlap, and power loss is drawn.
	BeyondClaims bool
}

// Draw draws the fault schedule of one seed. Like swarm testing, each seed
// first enables a random subset of the fault kinds, so that some seeds
// hammer one kind and others mix them. Within the claims, one fault is in
// force at a time (RF=3 with min.insync.replicas=2 survives one broker down
// or cut off) and no power is lost (Kafka does not fsync); beyond them,
// faults overlap and power fails.
func Draw(base *scenarios.Scenario, seed uint64, o Options) []Fault {
	r := sim.Seed(seed).Stream("explore/faults")
	kinds := o.Kinds
	if len(kinds) == 0 {
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
		return nil
	}
	start, end := 3.0, base.FaultWindowEnd().Seconds()
	var faults []Fault
	t := start + r.Float64()*3
	for n := 1 + r.IntN(5); n > 0 && t < end-1; n-- {
		length := min(1+r.Float64()*14, end-t)
		f := drawOne(r, base, enabled[r.IntN(len(enabled))], t, length)
		faults = append(faults, f)
		if o.BeyondClaims {
			t += r.Float64() * length * 1.5 // the next may begin before this one ends
		} else {
			t += length + 1 + r.Float64()*4 // one at a time, with time to recover between
		}
	}
	return faults
}

func drawOne(r *rand.Rand, base *scenarios.Scenario, kind string, at, length float64) Fault {
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
