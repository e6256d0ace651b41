// Package runner runs one scenario: it builds the world and the cluster,
// schedules the faults and the settle period, runs to the end, and checks
// the result against the scenario's expectations.
package runner

import (
	"fmt"
	"runtime/debug"
	"slices"
	"time"

	"github.com/tideline-sim/tideline/check"
	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/scenarios"
	"github.com/tideline-sim/tideline/sim"
)

// TraceSink takes a run's trace as it is recorded: the header before the
// run, then every entry in order (sim.World.StreamTrace). It must not act
// on the run; report.Out writes the entries on a goroutine of its own.
type TraceSink interface {
	Header(sim.TraceHeader) error
	Entry(sim.TraceEntry)
}

// Options adjust one run.
type Options struct {
	Seed     uint64
	Duration time.Duration // overrides the scenario's when set
	Trace    TraceSink     // where the trace goes, if anywhere
	Replay   []sim.TraceEntry
	// Progress, when set, is called after every simulated second. It is how
	// a terminal shows a long run advancing; it cannot change the run.
	Progress func(now, end time.Duration)
	// Simulated, when set, is called once the simulation has ended and
	// before the checkers run (for a heap profile of what the run keeps).
	Simulated func()
	// Measured, when set, is handed the result once the run is measured —
	// everything in it but Checks, Lost, Unavailable and Expectations —
	// and before the checkers run. It may go on reading what it was
	// handed on a goroutine of its own while they run (report.Out draws
	// the plots), and must write nothing.
	Measured func(*Result)
	// MaxEvents and MaxMemory cap the estimated cost (0: the defaults);
	// the run's event budget is four times its estimate (at least a million).
	MaxEvents, MaxMemory int64
}

// Result is everything a run found.
type Result struct {
	Scenario  *scenarios.Scenario
	Seed      uint64
	Duration  time.Duration
	Events    int64
	TraceHash uint64
	Sends     Sends
	Lost      int // acknowledged writes missing from the final logs
	// Unavailable counts acknowledged writes held only by a down replica of
	// a partition without a live leader at the end: not lost, not readable.
	Unavailable       int
	OfflinePartitions int                // partitions without a live leader at the end
	Availability      float64            // as users feel it: check.Availability.Available
	Detail            check.Availability // per partition, buckets, unavailability windows, recoveries
	Checks            []check.Result
	Leaders           int                       // leader elections
	Preferred         int                       // of those, preferred elections (automatic rebalancing or an operator's)
	ShutdownMoves     int                       // of those, leaderships handed on by a controlled shutdown
	Reassignments     int                       // partition reassignments completed
	Groups            []check.GroupStats        // each consumer group's numbers
	Producers         []journal.ProducerMetrics // each producer's own counts, by index
	Reordered         int                       // acknowledged writes out of their producer's send order
	Duplicated        int                       // extra copies of writes in the final logs
	ISRShrinks        int
	ISRExpands        int
	Expectations      []Outcome
	History           *journal.History
	Journal           []journal.Event
	Final             []cluster.FinalLog // every partition's logs at the end
	HWSamples         []journal.HWSample
	Faults            []FaultRecord
	Crash             *Crash // a panic in tideline's code, if the run hit one: then its only check is the crash
}

// Sends counts produce attempts by outcome.
type Sends struct {
	Invoked, Ok, Fail, Info, Pending int
}

// FaultRecord is a fault as it fired: what it resolved to.
type FaultRecord struct {
	At    time.Duration
	Until time.Duration // when its effect ended (a restart, a heal, the settle period); At for instant faults
	Kind  scenarios.FaultKind
	Text  string
	Hit   string // the nodes it hit, "" when it hit none
	For   time.Duration
	nodes []string
}

// Window reports whether the fault lasted (a crash, a partition) rather
// than happened at an instant (a restart, a heal).
func (f FaultRecord) Window() bool { return f.Until > f.At }

// Outcome is one expectation's verdict.
type Outcome struct {
	Name, Want, Got string
	OK              bool
}

// OK reports whether every expectation held and no checker failed
// unexpectedly.
func (r *Result) OK() bool {
	for _, o := range r.Expectations {
		if !o.OK {
			return false
		}
	}
	return true
}

// Crash is a panic in tideline's own code during a run: in the
// simulation (a node, the protocol monitor) or in a checker.
type Crash struct {
	Stage string // "the simulation" or "the checkers"
	At    clock.Time
	Value any
	Stack []byte
}

// guarded runs f, turning a panic into *crash (at the world's time, if a
// world is given) rather than the end of the process: a bug the
// simulator hits is a finding of the seed that hit it.
func guarded(crash **Crash, w *sim.World, f func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			c := &Crash{Stage: "the checkers", Value: v, Stack: debug.Stack()}
			if w != nil {
				c.Stage, c.At = "the simulation", w.Now()
			}
			*crash = c
		}
	}()
	return f()
}

// Run runs the scenario once, checks it and evaluates its expectations.
func Run(sc *scenarios.Scenario, opts Options) (*Result, error) {
	res, in, err := simulate(sc, opts)
	if err != nil {
		return nil, err
	}
	if res.Crash == nil {
		// Measuring and checking run tideline's code too: a panic there is
		// a finding of the run as well.
		guarded(&res.Crash, nil, func() error { res.judge(sc, in, opts); return nil })
	}
	if res.Crash != nil {
		res.summarise()
		res.windows(in.Healed.Since(), in.End.Since())
		res.Checks = []check.Result{check.Crash(res.Crash.Stage, res.Crash.At, res.Crash.Value, res.Crash.Stack, res.Journal)}
		res.Lost, res.Unavailable = 0, 0
	}
	res.evaluate()
	return res, nil
}

// judge measures a finished run and runs the checkers over it.
func (r *Result) judge(sc *scenarios.Scenario, in check.Input, opts Options) {
	r.Final = in.Final
	for _, f := range in.Final {
		if f.Leader == protocol.NoLeader || f.HWs[f.Leader] < 0 {
			r.OfflinePartitions++
		}
	}
	var faults []check.Fault
	for _, f := range r.Faults {
		faults = append(faults, check.Fault{At: f.At, Text: f.Text})
	}
	r.Detail = check.MeasureAvailability(in.History, in.Events, in.Final, faults, time.Second, sc.Cluster.Broker.AvailabilityDeadline, in.End)
	r.summarise()
	r.windows(in.Healed.Since(), in.End.Since())
	if opts.Measured != nil {
		r.History.Seal()
		opts.Measured(r)
	}
	if recoveryClaimed(sc.Faults) {
		for i, f := range r.Faults {
			if f.Window() && boundedKind(f.Kind) { // Recoveries has one per fault record
				in.Bounded = append(in.Bounded, check.BoundedFault{At: f.At, Lasted: f.Until - f.At, Text: f.Text})
				in.Recoveries = append(in.Recoveries, r.Detail.Recoveries[i])
			}
		}
		in.Session, in.Lag = sc.Cluster.Broker.SessionTimeout, sc.Cluster.Broker.ReplicaLagTimeMax
	}
	in.Groups = groupsOf(sc)
	if in.Groups != nil {
		stats, verdict := check.AnalyseGroups(in.History, in.Events, in.Final, in.Groups)
		r.Groups, in.EndToEnd = stats, &verdict
	}
	r.Checks = check.All(in)
	r.Reordered = check.Reordered(in.History, in.Final)
	r.Duplicated = check.Duplicated(in.History, in.Final)
	for _, v := range r.Checks[0].Violations {
		if v.Kind == "lost-write" {
			r.Lost++
		}
	}
	r.Unavailable = len(r.Checks[0].Unavailable)
}

// groupsOf names each consumer group member the scenario asked for.
func groupsOf(sc *scenarios.Scenario) check.Groups {
	var g check.Groups
	for i, cc := range sc.Cluster.Consumers {
		if cc.GroupID != "" {
			if g == nil {
				g = check.Groups{}
			}
			g[fmt.Sprintf("consumer-%d", i)] = cc.GroupID
		}
	}
	return g
}

// boundedKind reports whether the recovery bound covers a fault kind: a
// node down (crashed, or stopped in order: its lasting counts its
// controlled shutdown), paused or cut off, or a link slow or lossy, for a
// while.
func boundedKind(k scenarios.FaultKind) bool {
	switch k {
	case scenarios.Crash, scenarios.Stop, scenarios.Pause, scenarios.Isolate, scenarios.Partition, scenarios.SlowLink, scenarios.Loss:
		return true
	}
	return false
}

// recoveryClaimed reports whether a scenario's faults stay within what
// the recovery bound speaks for (explore's liveness claim): each of a
// bounded kind, for a set time, none waiting for an event, each after the
// one before has ended.
func recoveryClaimed(faults []scenarios.Fault) bool {
	var end time.Duration
	for _, f := range faults {
		if !boundedKind(f.Kind) || f.After != nil || f.For <= 0 || f.At < end {
			return false
		}
		end = f.At + f.For
	}
	return len(faults) > 0
}

// windows works out when each fault's effect ended: a crashed or paused
// node's next restart or resume; a network fault's own end, the next heal
// or the settle period.
func (r *Result) windows(settle, end time.Duration) {
	for i := range r.Faults {
		f := &r.Faults[i]
		switch f.Kind {
		case scenarios.Crash, scenarios.PowerLoss, scenarios.Stop, scenarios.Pause:
			back := journal.EvRestarted
			if f.Kind == scenarios.Pause {
				back = journal.EvResumed
			}
			f.Until = end
			for _, e := range r.Journal {
				if e.Time.Since() > f.At && e.Kind == back && slices.Contains(f.nodes, e.Node) {
					f.Until = e.Time.Since()
					break
				}
			}
		case scenarios.Partition, scenarios.Isolate, scenarios.OneWay, scenarios.SlowLink, scenarios.Loss:
			f.Until = settle
			if f.For > 0 {
				f.Until = f.At + f.For
			}
			for _, g := range r.Faults[i+1:] {
				if g.Kind == scenarios.Heal && g.At < f.Until {
					f.Until = g.At
				}
			}
		default:
			f.Until = f.At
		}
	}
}

// simulate builds and runs the world, and gathers what the checkers read.
func simulate(sc *scenarios.Scenario, opts Options) (*Result, check.Input, error) {
	if opts.Duration > 0 && opts.Duration != sc.Duration {
		sc = sc.WithDuration(opts.Duration)
	}
	duration := sc.Duration
	cost := Estimate(sc, duration)
	if err := checkCost(cost, opts.MaxEvents, opts.MaxMemory); err != nil {
		return nil, check.Input{}, err
	}
	// A run that takes far more events than estimated is livelocked: it
	// stops with an error rather than run on.
	budget := max(4*cost.Events, 1_000_000)
	w, err := sim.New(sim.Config{Seed: sim.Seed(opts.Seed), Duration: duration, Network: sc.Network, MaxEvents: budget})
	if err != nil {
		return nil, check.Input{}, err
	}
	c, err := cluster.Build(w, sc.Cluster)
	if err != nil {
		return nil, check.Input{}, err
	}
	c.Journal.SampleHW = opts.Trace != nil // the Perfetto trace's counters are their only reader
	for _, o := range sc.Links {
		from, _ := w.ID(o.From)
		to, _ := w.ID(o.To)
		if err := w.Network().SetLink(from, to, o.Link); err != nil {
			return nil, check.Input{}, err
		}
	}
	res := &Result{Scenario: sc, Seed: opts.Seed, Duration: duration}
	settle := min(sc.FaultWindowEnd(), duration)
	f := &faulter{w: w, c: c, rand: w.Stream("faults"), res: res, baseLoss: sc.Network.Loss, windowEnd: settle}
	for _, fault := range sc.Faults {
		f.schedule(fault)
	}
	if len(f.armed) > 0 || slices.ContainsFunc(sc.Faults, func(f scenarios.Fault) bool { return f.Kind == scenarios.Stop }) {
		c.Journal.Notify(f.onEvent)
	}
	w.At(clock.At(settle), "settle: heal all, restart crashed, resume paused", func(*sim.World) { f.settle() })
	if opts.Trace != nil {
		if err := opts.Trace.Header(w.Header(sc.Name, string(sc.Text))); err != nil {
			return nil, check.Input{}, err
		}
		w.StreamTrace(opts.Trace.Entry)
	}
	if opts.Replay != nil {
		w.Replay(opts.Replay)
	}
	run := func() error {
		if opts.Progress != nil {
			for t := time.Second; t < duration; t += time.Second {
				if err := w.RunUntil(clock.At(t)); err != nil {
					return err
				}
				opts.Progress(t, duration)
			}
		}
		return w.Run()
	}
	if err := guarded(&res.Crash, w, run); err != nil {
		return nil, check.Input{}, err
	}
	if res.Crash != nil {
		// The world stopped in the middle of an event: what it recorded up
		// to then is the finding's story, and nothing else is judged.
		res.Events, res.TraceHash = w.Events(), w.TraceHash()
		res.History = c.History
		res.Journal = c.Journal.Events()
		return res, check.Input{History: res.History, Events: res.Journal, Healed: clock.At(settle), End: w.Now()}, nil
	}
	if opts.Simulated != nil {
		opts.Simulated()
	}
	res.Events, res.TraceHash = w.Events(), w.TraceHash()
	res.History = c.History
	for _, m := range c.ProducerMetrics {
		res.Producers = append(res.Producers, *m)
	}
	res.HWSamples = c.Journal.HWSamples()
	res.Journal = c.Journal.Events()
	in := check.Input{
		History: res.History, Events: res.Journal, Divergences: c.Monitor.Divergences(), Invariants: c.Monitor.Violations(), Acks: c.Journal.Acks(),
		Final: c.FinalLogs(), Healed: clock.At(settle), End: w.Now(), Quorum: c.Quorum(), QuorumViolations: c.Monitor.QuorumViolations(),
	}
	return res, in, nil
}

// summarise counts the sends and protocol events from scratch (a run that
// crashed while judged is summarised again).
func (r *Result) summarise() {
	r.Sends, r.Leaders, r.Preferred, r.ShutdownMoves, r.ISRShrinks, r.ISRExpands, r.Reassignments = Sends{}, 0, 0, 0, 0, 0, 0
	for _, op := range r.History.All() {
		if op.F != journal.OpSend {
			continue
		}
		switch op.Type {
		case journal.Invoke:
			r.Sends.Invoked++
		case journal.Ok:
			r.Sends.Ok++
		case journal.Fail:
			r.Sends.Fail++
		case journal.Info:
			r.Sends.Info++
		}
	}
	r.Sends.Pending = r.Sends.Invoked - r.Sends.Ok - r.Sends.Fail - r.Sends.Info
	r.Availability = r.Detail.Available
	for _, e := range r.Journal {
		switch {
		case e.Kind.Election():
			r.Leaders++
			switch e.Kind {
			case journal.EvPreferredElected:
				r.Preferred++
			case journal.EvShutdownElected:
				r.ShutdownMoves++
			}
		case e.Kind == journal.EvISRShrink:
			r.ISRShrinks++
		case e.Kind == journal.EvISRExpand:
			r.ISRExpands++
		case e.Kind == journal.EvReassignCompleted:
			r.Reassignments++
		}
	}
}
