// Package runner runs one scenario: it builds the world and the cluster,
// schedules the faults and the settle period, runs to the end, and checks
// the result against the scenario's expectations.
package runner

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/tideline-sim/tideline/check"
	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster"
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
	Leaders           int // leader elections
	ISRShrinks        int
	ISRExpands        int
	Expectations      []Outcome
	History           *cluster.History
	Journal           []cluster.Event
	Final             []cluster.FinalLog // every partition's logs at the end
	HWSamples         []cluster.HWSample
	Faults            []FaultRecord
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

// Run runs the scenario once, checks it and evaluates its expectations.
func Run(sc *scenarios.Scenario, opts Options) (*Result, error) {
	res, in, err := simulate(sc, opts)
	if err != nil {
		return nil, err
	}
	res.Final = in.Final
	for _, f := range in.Final {
		if f.Leader == cluster.NoLeader || f.HWs[f.Leader] < 0 {
			res.OfflinePartitions++
		}
	}
	var faults []check.Fault
	for _, f := range res.Faults {
		faults = append(faults, check.Fault{At: f.At, Text: f.Text})
	}
	res.Detail = check.MeasureAvailability(in.History, in.Events, in.Final, faults, time.Second, sc.Cluster.Broker.AvailabilityDeadline, in.End)
	res.summarise()
	res.windows(in.Healed.Since(), in.End.Since())
	if opts.Measured != nil {
		res.History.Seal()
		opts.Measured(res)
	}
	res.Checks = check.All(in)
	for _, v := range res.Checks[0].Violations {
		if v.Kind == "lost-write" {
			res.Lost++
		}
	}
	res.Unavailable = len(res.Checks[0].Unavailable)
	res.evaluate()
	return res, nil
}

// windows works out when each fault's effect ended: a crashed or paused
// node's next restart or resume; a network fault's own end, the next heal
// or the settle period.
func (r *Result) windows(settle, end time.Duration) {
	for i := range r.Faults {
		f := &r.Faults[i]
		switch f.Kind {
		case scenarios.Crash, scenarios.PowerLoss, scenarios.Pause:
			back := cluster.EvRestarted
			if f.Kind == scenarios.Pause {
				back = cluster.EvResumed
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
	if len(f.armed) > 0 {
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
	if opts.Progress != nil {
		for t := time.Second; t < duration; t += time.Second {
			if err := w.RunUntil(clock.At(t)); err != nil {
				return nil, check.Input{}, err
			}
			opts.Progress(t, duration)
		}
	}
	if err := w.Run(); err != nil {
		return nil, check.Input{}, err
	}
	if opts.Simulated != nil {
		opts.Simulated()
	}
	res.Events, res.TraceHash = w.Events(), w.TraceHash()
	res.History = c.History
	res.HWSamples = c.Journal.HWSamples()
	res.Journal = c.Journal.Events()
	in := check.Input{
		History: res.History, Events: res.Journal, Divergences: c.Journal.Divergences(), Invariants: c.Journal.Violations(), Acks: c.Journal.Acks(),
		Final: c.FinalLogs(), Healed: clock.At(settle), End: w.Now(), Quorum: c.Quorum(), QuorumViolations: c.Journal.QuorumViolations(),
	}
	return res, in, nil
}

func (r *Result) summarise() {
	for _, op := range r.History.All() {
		if op.F != cluster.OpSend {
			continue
		}
		switch op.Type {
		case cluster.Invoke:
			r.Sends.Invoked++
		case cluster.Ok:
			r.Sends.Ok++
		case cluster.Fail:
			r.Sends.Fail++
		case cluster.Info:
			r.Sends.Info++
		}
	}
	r.Sends.Pending = r.Sends.Invoked - r.Sends.Ok - r.Sends.Fail - r.Sends.Info
	r.Availability = r.Detail.Available
	for _, e := range r.Journal {
		switch e.Kind {
		case cluster.EvElected, cluster.EvELRElected, cluster.EvUncleanElected, cluster.EvPreferredElected:
			r.Leaders++
		case cluster.EvISRShrink:
			r.ISRShrinks++
		case cluster.EvISRExpand:
			r.ISRExpands++
		}
	}
}

func (r *Result) evaluate() {
	expected := map[string]scenarios.Expectation{}
	for _, e := range r.Scenario.Expect {
		expected[e.Name] = e
	}
	for _, ch := range r.Checks {
		e, ok := expected[ch.Checker]
		want := "pass"
		switch {
		case ok && e.Any:
			want = "any"
		case ok && !e.Pass:
			want = "fail"
		}
		got := ch.Verdict()
		if !ch.OK() {
			got = fmt.Sprintf("fail (%d violations)", len(ch.Violations))
		}
		r.Expectations = append(r.Expectations, Outcome{Name: ch.Checker, Want: want, Got: got, OK: want == "any" || ch.OK() == (want == "pass")})
	}
	for _, e := range r.Scenario.Expect {
		var got float64
		var text string
		switch e.Name {
		case scenarios.Availability:
			got = r.Availability
			text = fmt.Sprintf("%.4f", got)
		case scenarios.EventuallyAcknowledged:
			got = r.Detail.Share
			text = fmt.Sprintf("%.4f", got)
		case scenarios.MaxOutage:
			_, o := r.Detail.Longest()
			got, text = o.Length().Seconds(), o.Length().Round(time.Millisecond).String()
			if o.Ongoing {
				got, text = math.Inf(1), "ongoing at the end of the load ("+text+" so far)"
			}
		case scenarios.MaxRecovery:
			worst, never := r.worstRecovery()
			got, text = worst.Seconds(), worst.Round(time.Millisecond).String()
			if never {
				// Writes that never resumed took longer than any bound.
				got, text = math.Inf(1), "never"
			}
		case scenarios.Lost:
			got, text = float64(r.Lost), strconv.Itoa(r.Lost)
		case scenarios.OfflinePartitions:
			got, text = float64(r.OfflinePartitions), strconv.Itoa(r.OfflinePartitions)
		default:
			continue
		}
		want := e.Op + " " + strconv.FormatFloat(e.Value, 'g', -1, 64)
		if e.Name == scenarios.MaxRecovery || e.Name == scenarios.MaxOutage {
			want = e.Op + " " + time.Duration(e.Value*float64(time.Second)).String()
		}
		r.Expectations = append(r.Expectations, Outcome{Name: e.Name, Want: want, Got: text, OK: e.Holds(got)})
	}
}

// worstRecovery is the longest time any fault kept writes from resuming;
// never reports a fault after which they did not resume at all.
func (r *Result) worstRecovery() (worst time.Duration, never bool) {
	for _, rec := range r.Detail.Recoveries {
		if rec.WritesResumed < 0 {
			never = true
		}
		worst = max(worst, rec.WritesResumed)
	}
	return worst, never
}

// faulter applies the fault schedule to a running world.
type faulter struct {
	w         *sim.World
	c         *cluster.Cluster
	rand      *rand.Rand
	res       *Result
	baseLoss  float64
	armed     []scenarios.Fault // faults waiting for their protocol event
	windowEnd time.Duration     // faults end by then; the settle period follows
}

func (f *faulter) schedule(fault scenarios.Fault) {
	if fault.After != nil {
		f.armed = append(f.armed, fault)
		return
	}
	f.w.At(clock.At(fault.At), fault.Text, func(*sim.World) { f.fire(fault) })
}

// fire applies a fault now, and schedules its undoing.
func (f *faulter) fire(fault scenarios.Fault) {
	undo := f.apply(fault)
	if fault.For > 0 && undo != nil {
		f.w.At(f.w.Now().Add(fault.For), "end of "+fault.Text, func(*sim.World) {
			undo()
			if !lifecycle(fault.Kind) {
				f.c.Journal.Fault(f.w.Now(), "end of "+fault.Text)
			}
		})
	}
}

// lifecycle reports whether a fault kind crashes, restarts, pauses or
// resumes nodes: the journal records those as the nodes' own events.
func lifecycle(k scenarios.FaultKind) bool {
	switch k {
	case scenarios.Crash, scenarios.PowerLoss, scenarios.Restart, scenarios.Pause, scenarios.Resume:
		return true
	}
	return false
}

// onEvent fires the armed faults a protocol event sets off: each once, the
// first time its event happens at or after its time, if it can still end
// within the fault window.
func (f *faulter) onEvent(e cluster.Event) {
	kept := f.armed[:0]
	for _, fault := range f.armed {
		at := e.Time.Add(fault.AfterDelay)
		switch {
		case e.Time < clock.At(fault.At) || !fault.After.Matches(e):
			kept = append(kept, fault)
		case at.Add(fault.For) <= clock.At(f.windowEnd):
			f.w.At(at, fault.Text, func(*sim.World) { f.fire(fault) })
		}
	}
	f.armed = kept
}

// apply fires a fault and returns what undoes it.
func (f *faulter) apply(fault scenarios.Fault) (undo func()) {
	net := f.w.Network()
	var hit []sim.NodeID
	defer func() {
		rec := FaultRecord{At: f.w.Now().Since(), Kind: fault.Kind, Text: fault.Text, For: fault.For}
		for i, n := range hit {
			if i > 0 {
				rec.Hit += ", "
			}
			rec.Hit += f.w.Name(n)
			rec.nodes = append(rec.nodes, f.w.Name(n))
		}
		f.res.Faults = append(f.res.Faults, rec)
		if !lifecycle(fault.Kind) {
			f.c.Journal.Fault(f.w.Now(), fault.Text)
		}
	}()
	switch fault.Kind {
	case scenarios.Crash:
		hit = f.each(fault.Target, f.w.Crash)
		return f.undo(hit, f.w.Restart)
	case scenarios.PowerLoss:
		hit = f.each(fault.Target, func(n sim.NodeID) bool { f.w.PowerLoss(n); return true })
		return f.undo(hit, f.w.Restart)
	case scenarios.Restart:
		hit = f.each(fault.Target, f.w.Restart)
	case scenarios.Pause:
		hit = f.each(fault.Target, f.w.Pause)
		return f.undo(hit, f.w.Resume)
	case scenarios.Resume:
		hit = f.each(fault.Target, f.w.Resume)
	case scenarios.Isolate:
		hit = f.resolve(fault.Target)
		return f.block(f.pairsAround(hit))
	case scenarios.Partition:
		groups := f.groups(fault.Groups)
		var pairs [][2]sim.NodeID
		for i, g := range groups {
			hit = append(hit, g...)
			for j, h := range groups {
				if i != j {
					for _, a := range g {
						for _, b := range h {
							pairs = append(pairs, [2]sim.NodeID{a, b})
						}
					}
				}
			}
		}
		return f.block(pairs)
	case scenarios.OneWay:
		from, to := f.resolveAll(fault.From), f.resolveAll(fault.To)
		hit = append(slices.Clone(from), to...)
		return f.block(cross(from, to))
	case scenarios.Heal:
		net.Heal()
		f.setLoss(f.baseLoss)
	case scenarios.SlowLink:
		from, to := f.resolveAll(fault.From), f.resolveAll(fault.To)
		hit = append(slices.Clone(from), to...)
		pairs := cross(from, to)
		for _, p := range pairs {
			net.SlowLink(p[0], p[1], fault.Delay)
		}
		return func() {
			for _, p := range pairs {
				net.SlowLink(p[0], p[1], 0)
			}
		}
	case scenarios.Loss:
		f.setLoss(fault.Loss)
		return func() { f.setLoss(f.baseLoss) }
	case scenarios.Elect:
		if ctl := f.c.Controller(); ctl != nil && ctl.ElectLeader(fault.TP, fault.Unclean) {
			hit = []sim.NodeID{ctl.Node()}
		}
	}
	return nil
}

// each applies a lifecycle step to every node the target names now, and
// returns the nodes it changed.
func (f *faulter) each(t scenarios.Target, step func(sim.NodeID) bool) []sim.NodeID {
	var hit []sim.NodeID
	for _, n := range f.resolve(t) {
		if step(n) {
			hit = append(hit, n)
		}
	}
	return hit
}

// undo returns what reverses a lifecycle fault on the nodes it hit.
func (f *faulter) undo(hit []sim.NodeID, step func(sim.NodeID) bool) func() {
	nodes := slices.Clone(hit)
	return func() {
		for _, n := range nodes {
			step(n)
		}
	}
}

func (f *faulter) setLoss(p float64) {
	l := f.w.Network().Defaults()
	l.Loss = p
	_ = f.w.Network().SetDefaults(l) // validated when the scenario was loaded
}

func (f *faulter) block(pairs [][2]sim.NodeID) func() {
	net := f.w.Network()
	var added [][2]sim.NodeID
	for _, p := range pairs {
		if p[0] != p[1] && !net.Blocked(p[0], p[1]) {
			net.Block(p[0], p[1])
			added = append(added, p)
		}
	}
	return func() {
		for _, p := range added {
			net.Unblock(p[0], p[1])
		}
	}
}

func (f *faulter) pairsAround(nodes []sim.NodeID) [][2]sim.NodeID {
	var pairs [][2]sim.NodeID
	for _, n := range nodes {
		for _, o := range f.w.Nodes() {
			if o != n {
				pairs = append(pairs, [2]sim.NodeID{n, o}, [2]sim.NodeID{o, n})
			}
		}
	}
	return pairs
}

func cross(from, to []sim.NodeID) [][2]sim.NodeID {
	var pairs [][2]sim.NodeID
	for _, a := range from {
		for _, b := range to {
			pairs = append(pairs, [2]sim.NodeID{a, b})
		}
	}
	return pairs
}

// settle ends every fault: the network heals, loss returns to its base,
// down nodes restart and paused ones resume; producers stop on their own.
func (f *faulter) settle() {
	f.c.Journal.Fault(f.w.Now(), "settle: heal all, restart crashed, resume paused")
	f.w.Network().Heal()
	f.setLoss(f.baseLoss)
	for _, n := range f.w.Nodes() {
		f.w.Resume(n)
		f.w.Restart(n)
	}
}

func (f *faulter) groups(groups [][]scenarios.Target) [][]sim.NodeID {
	out := make([][]sim.NodeID, len(groups))
	rest := -1
	taken := map[sim.NodeID]bool{}
	for i, g := range groups {
		for _, t := range g {
			if t.Kind == scenarios.RestTarget {
				rest = i
				continue
			}
			for _, n := range f.resolve(t) {
				if !taken[n] {
					taken[n] = true
					out[i] = append(out[i], n)
				}
			}
		}
	}
	if rest >= 0 {
		for _, n := range f.w.Nodes() {
			if !taken[n] {
				out[rest] = append(out[rest], n)
			}
		}
	}
	return out
}

func (f *faulter) resolveAll(ts []scenarios.Target) []sim.NodeID {
	var out []sim.NodeID
	for _, t := range ts {
		if t.Kind == scenarios.RestTarget {
			continue
		}
		for _, n := range f.resolve(t) {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	if slices.ContainsFunc(ts, func(t scenarios.Target) bool { return t.Kind == scenarios.RestTarget }) {
		for _, n := range f.w.Nodes() {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}

// resolve finds the nodes a target names at this moment.
func (f *faulter) resolve(t scenarios.Target) []sim.NodeID {
	brokers := f.c.Dir.Brokers
	switch t.Kind {
	case scenarios.BrokerTarget:
		return []sim.NodeID{brokers[t.Broker]}
	case scenarios.ControllerTarget:
		if len(f.c.Dir.Controllers) < 2 {
			return []sim.NodeID{f.c.Dir.Controller}
		}
		if id, ok := f.c.ActiveController(); ok {
			return []sim.NodeID{id} // the active one, as the fault fires
		}
	case scenarios.ControllerNTarget:
		return []sim.NodeID{f.c.Dir.Controllers[t.Controller]}
	case scenarios.AllControllersTarget:
		return slices.Clone(f.c.Dir.Controllers)
	case scenarios.AllBrokersTarget:
		return slices.Clone(brokers)
	case scenarios.RandomBrokerTarget:
		return []sim.NodeID{brokers[f.rand.IntN(len(brokers))]}
	case scenarios.CrashedTarget:
		var down []sim.NodeID
		for _, n := range f.w.Nodes() {
			if !f.w.Up(n) {
				down = append(down, n)
			}
		}
		return down
	case scenarios.LeaderTarget:
		if st := f.c.State(t.TP); st.Leader != cluster.NoLeader {
			return []sim.NodeID{brokers[st.Leader]}
		}
	case scenarios.FollowerTarget:
		st := f.c.State(t.TP)
		var followers []cluster.BrokerID
		for _, b := range st.ISR {
			if b != st.Leader {
				followers = append(followers, b)
			}
		}
		if len(followers) == 0 {
			for _, b := range st.Replicas {
				if b != st.Leader {
					followers = append(followers, b)
				}
			}
		}
		if len(followers) > 0 {
			return []sim.NodeID{brokers[followers[f.rand.IntN(len(followers))]]}
		}
	}
	return nil
}
