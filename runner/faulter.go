package runner

import (
	"math/rand/v2"
	"slices"
	"time"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/node"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/scenarios"
	"github.com/tideline-sim/tideline/sim"
)

// faulter applies the fault schedule to a running world.
type faulter struct {
	w         *sim.World
	c         *cluster.Cluster
	rand      *rand.Rand
	res       *Result
	baseLoss  float64
	armed     []scenarios.Fault // faults waiting for their protocol event
	windowEnd time.Duration     // faults end by then; the settle period follows
	// stopping holds the nodes told to stop that have not exited yet;
	// restartOnStop, those of them to restart as soon as they have (their
	// stop's for: ended, or the settle period began, while they shut down).
	stopping, restartOnStop []sim.NodeID
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
			if !lifecycle(fault.Kind) && fault.Kind != scenarios.Stop {
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
func (f *faulter) onEvent(e journal.Event) {
	if e.Kind.Down() { // a stop, or a crash that cut one short
		f.stopped(e)
	}
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
	case scenarios.Stop:
		hit = f.each(fault.Target, func(n sim.NodeID) bool {
			if slices.Contains(f.stopping, n) || !f.w.Signal(n, node.Terminate{}) {
				return false
			}
			f.stopping = append(f.stopping, n)
			return true
		})
		return f.undo(hit, f.restartStopped)
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
	case scenarios.Reassign:
		for _, move := range f.moves(fault) {
			if f.c.Reassign(move.tp, move.target) {
				hit = []sim.NodeID{f.c.Controller().Node()}
			}
		}
	case scenarios.Elect:
		f.c.Monitor.OperatorElection(fault.TP, fault.Unclean) // what the scenario asked, for the judge
		ctl := f.c.Controller()
		switch {
		case ctl == nil:
		case fault.Preferred && ctl.ElectPreferred(fault.TP), !fault.Preferred && ctl.ElectLeader(fault.TP, fault.Unclean):
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

type move struct {
	tp     protocol.TopicPartition
	target []protocol.BrokerID
}

// moves are the reassignments a reassign fault asks for: its partition to
// its replicas, or every partition off one broker — each replica there
// replaced by the next broker, counting up from it, that is not already a
// replica, as an operator's generated plan might.
func (f *faulter) moves(fault scenarios.Fault) []move {
	if fault.Off < 0 {
		target := make([]protocol.BrokerID, len(fault.Replicas))
		for i, r := range fault.Replicas {
			target[i] = protocol.BrokerID(r)
		}
		return []move{{fault.TP, target}}
	}
	off, n := protocol.BrokerID(fault.Off), protocol.BrokerID(f.c.Spec.Brokers)
	var out []move
	for _, tp := range f.c.Partitions() {
		st := f.c.State(tp)
		replicas := st.Target()
		i := slices.Index(replicas, off)
		if i < 0 {
			continue
		}
		target := slices.Clone(replicas)
		for b := (off + 1) % n; b != off; b = (b + 1) % n {
			if !slices.Contains(target, b) {
				target[i] = b
				break
			}
		}
		if target[i] != off {
			out = append(out, move{tp, target})
		}
	}
	return out
}

// restartStopped restarts a stopped node, or, while it is still shutting
// down, as soon as it has stopped.
func (f *faulter) restartStopped(n sim.NodeID) bool {
	if slices.Contains(f.stopping, n) {
		if !slices.Contains(f.restartOnStop, n) {
			f.restartOnStop = append(f.restartOnStop, n)
		}
		return false
	}
	return f.w.Restart(n)
}

// stopped hears that a node went down — its orderly stop done, or cut
// short by a crash — and restarts it if its restart is already due.
func (f *faulter) stopped(e journal.Event) {
	n, ok := f.w.ID(e.Node)
	if !ok || !slices.Contains(f.stopping, n) {
		return
	}
	f.stopping = slices.DeleteFunc(f.stopping, func(m sim.NodeID) bool { return m == n })
	if i := slices.Index(f.restartOnStop, n); i >= 0 {
		f.restartOnStop = slices.Delete(f.restartOnStop, i, i+1)
		f.w.At(e.Time, "restart "+e.Node+" (stopped)", func(*sim.World) { f.w.Restart(n) })
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
		f.restartStopped(n)
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
	case scenarios.RackTarget:
		var in []sim.NodeID
		for b, rack := range f.c.Spec.Racks {
			if rack == t.Rack {
				in = append(in, brokers[b])
			}
		}
		return in
	case scenarios.RandomBrokerTarget:
		return []sim.NodeID{brokers[f.rand.IntN(len(brokers))]}
	case scenarios.ConsumerTarget:
		return []sim.NodeID{f.c.Consumers[t.Consumer]}
	case scenarios.AllConsumersTarget:
		return slices.Clone(f.c.Consumers)
	case scenarios.CoordinatorTarget:
		// The leader of the group's __consumer_offsets partition, now.
		tp := protocol.TopicPartition{Topic: protocol.OffsetsTopic, Partition: protocol.CoordinatorPartition(t.Group, f.c.Spec.Broker.Group.OffsetsTopicPartitions)}
		if st := f.c.State(tp); st.Leader != protocol.NoLeader {
			return []sim.NodeID{brokers[st.Leader]}
		}
	case scenarios.GroupTarget:
		var in []sim.NodeID
		for i, cc := range f.c.Spec.Consumers {
			if cc.GroupID == t.Group {
				in = append(in, f.c.Consumers[i])
			}
		}
		return in
	case scenarios.CrashedTarget:
		var down []sim.NodeID
		for _, n := range f.w.Nodes() {
			if !f.w.Up(n) {
				down = append(down, n)
			}
		}
		return down
	case scenarios.LeaderTarget:
		if st := f.c.State(t.TP); st.Leader != protocol.NoLeader {
			return []sim.NodeID{brokers[st.Leader]}
		}
	case scenarios.FollowerTarget:
		st := f.c.State(t.TP)
		var followers []protocol.BrokerID
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
