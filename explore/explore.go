package explore

import (
	"fmt"
	"strings"

	"github.com/tideline-sim/tideline/check"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/runner"
	"github.com/tideline-sim/tideline/scenarios"
)

// Path is a protocol path whose reach exploration counts: a path never
// reached is a hole in the exploration.
type Path struct {
	Name   string
	Event  journal.EventKind  // counted from the journal, or
	Err    protocol.ErrorCode // from the history's errors, or
	Op     func(journal.Op) bool
	Quorum bool // reachable only with a controller quorum
	Groups bool // reachable only with consumer groups
}

// Paths are the protocol paths counted.
var Paths = []Path{
	{Name: "clean election", Event: journal.EvElected},
	{Name: "election from the ELR (KIP-966)", Event: journal.EvELRElected},
	{Name: "ISR expansion refused (INELIGIBLE_REPLICA)", Event: journal.EvIneligibleReplica},
	{Name: "unclean election", Event: journal.EvUncleanElected},
	{Name: "partition offline", Event: journal.EvOffline},
	{Name: "preferred election", Event: journal.EvPreferredElected},
	{Name: "controlled shutdown", Event: journal.EvControlledShutdown},
	{Name: "leadership moved by controlled shutdown", Event: journal.EvShutdownElected},
	{Name: "clean restart", Event: journal.EvCleanStart},
	{Name: "reassignment completed", Event: journal.EvReassignCompleted},
	{Name: "controller ended its epoch (EndQuorumEpoch)", Event: journal.EvControllerEndedEpoch, Quorum: true},
	{Name: "broker fenced", Event: journal.EvFenced},
	{Name: "registration refused (old session valid)", Event: journal.EvRegistrationRefused},
	{Name: "truncation", Event: journal.EvTruncated},
	{Name: "ISR shrink", Event: journal.EvISRShrink},
	{Name: "ISR expand", Event: journal.EvISRExpand},
	{Name: "fenced request (stale epoch)", Event: journal.EvFencedRequest},
	{Name: "idempotent duplicate rejected", Event: journal.EvDuplicateBatch},
	{Name: "out-of-order sequence", Event: journal.EvOutOfOrder},
	{Name: "NOT_ENOUGH_REPLICAS", Event: journal.EvNotEnoughReplicas},
	{Name: "NOT_ENOUGH_REPLICAS_AFTER_APPEND", Event: journal.EvNotEnoughReplicasAfterAppend},
	{Name: "produce timed out", Err: protocol.RequestTimedOut},
	{Name: "connection lost with a request in flight", Err: protocol.NetworkException},
	{Name: "controller elected (KIP-595)", Event: journal.EvControllerElected, Quorum: true},
	{Name: "controller resigned (check-quorum)", Event: journal.EvControllerResigned, Quorum: true},
	{Name: "pre-vote refused (KIP-996)", Event: journal.EvPreVoteRejected, Quorum: true},
	{Name: "group rebalance", Event: journal.EvGroupRebalance, Groups: true},
	{Name: "group member removed", Event: journal.EvGroupMemberRemoved, Groups: true},
	{Name: "coordinator moved (groups loaded from the log)", Event: journal.EvCoordinatorLoaded, Groups: true},
	{Name: "offset commit failed or unknown", Op: func(op journal.Op) bool {
		return op.F == journal.OpCommit && (op.Type == journal.Fail || op.Type == journal.Info)
	}, Groups: true},
	{Name: "consumer detected log truncation (KIP-320)", Op: func(op journal.Op) bool {
		return op.F == journal.OpReset && op.Type != journal.Ok && strings.Contains(op.Note, "truncation")
	}, Groups: true},
}

// opPaths are the Paths counted from history ops.
var opPaths = func() []int {
	var out []int
	for i, p := range Paths {
		if p.Op != nil {
			out = append(out, i)
		}
	}
	return out
}()

// Outcome is what one seed found.
type Outcome struct {
	Seed       uint64
	Drawn      Drawn  // the cluster and settings drawn (nil with Options.BaseOnly)
	Config     string // Drawn as text, kept where Drawn is not (a merged shard's outcomes)
	Faults     []Fault
	Failed     []string // checkers that reported violations, in check.Names order
	Violations []int    // their violation counts
	Coverage   []int    // hits per Paths entry
	Liveness   bool     // the faults stayed within the liveness claim, so liveness was checked
	Events     int64
	Err        string // the run itself failed (a bug in tideline)
}

// OK reports whether every promise held.
func (o Outcome) OK() bool { return len(o.Failed) == 0 && o.Err == "" }

// Seed runs one seed: draws its faults, composes the scenario and checks
// it — every safety checker always, liveness (eventual-delivery) only when
// the faults stayed within its claim.
func Seed(base *scenarios.Scenario, seed uint64, o Options) (Outcome, *scenarios.Scenario) {
	out := Outcome{Seed: seed}
	shaped := base
	if !o.BaseOnly {
		// The faults are drawn onto the drawn cluster: its brokers, its
		// partitions, its (longer) fault window.
		out.Drawn = DrawConfig(base, seed)
		out.Config = out.Drawn.Text()
		var err error
		if shaped, err = Scenario(base, seed, nil, out.Overrides(o)); err != nil {
			out.Err = err.Error()
			return out, nil
		}
	}
	out.Faults = Draw(shaped, seed, o)
	out.Liveness = LivenessClaimed(out.Faults)
	sc, err := Scenario(base, seed, out.Faults, out.Overrides(o))
	if err != nil {
		out.Err = err.Error()
		return out, nil
	}
	res, err := runner.Run(sc, runner.Options{Seed: seed})
	if err != nil {
		out.Err = err.Error()
		return out, sc
	}
	out.record(res)
	return out, sc
}

// Overrides turns Config into Scenario's overrides.
func (o Options) Overrides() map[string]any {
	if len(o.Config) == 0 {
		return nil
	}
	m := map[string]any{}
	for k, v := range o.Config {
		m["cluster.config:"+k] = v
	}
	return m
}

// Overrides are what the seed's scenario sets on the base: the options'
// broker properties and the drawn configuration.
func (out Outcome) Overrides(o Options) map[string]any {
	if len(out.Drawn) == 0 {
		return o.Overrides()
	}
	m := map[string]any{}
	for k, v := range out.Drawn {
		m[k] = v
	}
	for k, v := range o.Overrides() {
		m[k] = v // what the user set wins over what was drawn
	}
	return m
}

// Scenario composes the base with faults into a scenario of its own.
func Scenario(base *scenarios.Scenario, seed uint64, faults []Fault, overrides map[string]any) (*scenarios.Scenario, error) {
	name := fmt.Sprintf("%s-seed-%d", base.Name, seed)
	note := fmt.Sprintf("Explored from %s with seed %d: %d drawn faults.", base.Name, seed, len(faults))
	if overrides == nil {
		overrides = map[string]any{}
	}
	// Every checker must pass: a drawn schedule promises nothing less —
	// except liveness, beyond its claim.
	if _, set := overrides["expect"]; !set {
		expect := map[string]any{}
		if !LivenessClaimed(faults) {
			expect[check.EventualDeliveryName] = "any"
		}
		overrides["expect"] = expect
	}
	text, err := Compose(base, name, note, seed, faults, overrides)
	if err != nil {
		return nil, err
	}
	sc, err := scenarios.Load(name+".yaml", text)
	if err != nil {
		return nil, fmt.Errorf("composed scenario does not load: %w\n%s", err, text)
	}
	return sc, nil
}

func (o *Outcome) record(res *runner.Result) {
	o.Events = res.Events
	for _, ch := range res.Checks {
		n := len(ch.Violations)
		if !o.Liveness && ch.Checker == check.EndToEndName {
			// A record left unprocessed when the faults healed is
			// liveness: judged only within its claim, like delivery.
			n = 0
			for _, v := range ch.Violations {
				if v.Kind != "unprocessed" {
					n++
				}
			}
		}
		if n > 0 && (o.Liveness || ch.Checker != check.EventualDeliveryName) {
			o.Failed = append(o.Failed, ch.Checker)
			o.Violations = append(o.Violations, n)
		}
	}
	o.Coverage = make([]int, len(Paths))
	for _, e := range res.Journal {
		for i, p := range Paths {
			if p.Event != "" && p.Event == e.Kind {
				o.Coverage[i]++
			}
		}
	}
	for _, op := range res.History.All() {
		for _, i := range opPaths {
			if Paths[i].Op(op) {
				o.Coverage[i]++
			}
		}
		if op.Err == protocol.None {
			continue
		}
		for i, p := range Paths {
			if p.Err != protocol.None && p.Err == op.Err {
				o.Coverage[i]++
			}
		}
	}
}

// Explore runs every seed, spread over workers (one world each); the
// outcomes come back in seed order whatever the worker count, so results
// never depend on it. done, if set, hears of each outcome as it finishes
// (from the caller's goroutine).
func Explore(base *scenarios.Scenario, seeds []uint64, workers int, o Options, done func(Outcome)) []Outcome {
	out := make([]Outcome, len(seeds))
	runner.Parallel(len(seeds), workers, func(i int) { out[i], _ = Seed(base, seeds[i], o) }, func(i int) {
		if done != nil {
			done(out[i])
		}
	})
	return out
}

// FirstFailures returns, for each checker, the first outcome (in seed
// order) in which it failed.
func FirstFailures(outcomes []Outcome) map[string]Outcome {
	first := map[string]Outcome{}
	for _, o := range outcomes {
		for _, c := range o.Failed {
			if _, seen := first[c]; !seen {
				first[c] = o
			}
		}
	}
	return first
}

// Checkers lists the checker names in report order.
var Checkers = check.Names
