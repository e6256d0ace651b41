// Package sim is the simulated world: one event loop on a virtual clock that
// runs every node, carries their messages over the network model, fires
// their timers, keeps their disks, injects faults, and records a trace whose
// running hash fingerprints the whole run.
//
// A world runs on one goroutine and draws every random choice from streams
// derived from its seed, so the same seed gives the same run, event for event.
package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/network"
)

// DefaultMaxEvents bounds a run whose Config sets no budget: far beyond any
// sane scenario, low enough that a livelock ends in seconds, not hours.
const DefaultMaxEvents = 200_000_000

// Config fixes what a world is before it runs.
type Config struct {
	Seed      Seed
	Duration  time.Duration // simulated time the run covers
	MaxEvents int64         // event budget; 0 means DefaultMaxEvents
	Network   network.Link  // default for every link
}

// ErrEventBudget is returned when a run takes more events than its budget,
// which almost always means nodes are livelocked on each other.
var ErrEventBudget = errors.New("event budget exhausted")

type eventKind uint8

const (
	evStart eventKind = iota
	evDeliver
	evTimer
	evAction
)

// event is the payload of a queued event. Events live in a slab indexed by
// slot; the heap holds only slot numbers, which keeps its sift loops cheap
// and lets a cancelled timer leave it by its slot.
type event struct {
	kind      eventKind
	cancelled bool   // a timer cancelled while a paused node held it
	shared    bool   // one of several copies of a message, so never recycled
	gen       uint32 // bumped when the slot is reused, so stale TimerIDs miss
	inc       uint32 // incarnation of the target node the event was meant for
	node      NodeID // the node it happens to
	from      NodeID // sender, for deliveries
	sentAt    clock.Time
	msg       Message
	timer     Timer
	action    func(*World)
	label     string
}

type nodeState struct {
	id      NodeID
	name    string
	factory func() Node
	node    Node // nil while down
	env     *nodeEnv
	disk    *Disk
	rand    *rand.Rand
	inc     uint32 // bumped on every crash and restart
	up      bool
	paused  bool
	// poweredOff: down by a power loss, so its host resets no connection.
	poweredOff bool
	exiting    bool         // Exit was called in the handler running now
	conns      []connection // by receiver
	held       []uint32     // events that reached the node while paused, in order
}

// World is one simulated run.
type World struct {
	cfg       Config
	now       clock.Time
	queue     clock.Queue[uint32]
	slab      []event
	free      []uint32
	nodes     []*nodeState
	byName    map[string]NodeID
	net       *network.Network
	streams   map[string]bool // names handed out, to catch two users of one stream
	popped    int64
	err       error
	trace     tracer
	lifecycle func(kind string, node NodeID)
}

// New returns a world with no nodes.
func New(cfg Config) (*World, error) {
	if cfg.Duration <= 0 {
		return nil, fmt.Errorf("sim: duration %v must be positive", cfg.Duration)
	}
	if cfg.MaxEvents <= 0 {
		cfg.MaxEvents = DefaultMaxEvents
	}
	net, err := network.New(cfg.Seed.Uint64("network"), cfg.Network)
	if err != nil {
		return nil, fmt.Errorf("sim: network: %w", err)
	}
	w := &World{
		cfg:     cfg,
		byName:  map[string]NodeID{},
		net:     net,
		streams: map[string]bool{"network": true},
	}
	w.trace.reset()
	return w, nil
}

// Seed returns the run's seed.
func (w *World) Seed() Seed { return w.cfg.Seed }

// Now returns the current virtual time.
func (w *World) Now() clock.Time { return w.now }

// End returns the time at which the run stops.
func (w *World) End() clock.Time { return clock.At(w.cfg.Duration) }

// Network returns the network model, for faults that cut or slow links.
func (w *World) Network() *network.Network { return w.net }

// Stream returns a fresh random stream for a concern of the run (faults,
// workload). Each name may be taken once; nodes get theirs automatically.
func (w *World) Stream(name string) *rand.Rand {
	if w.streams[name] {
		panic(fmt.Sprintf("sim: random stream %q taken twice", name))
	}
	w.streams[name] = true
	return w.cfg.Seed.Stream(name)
}

// AddNode adds a node that boots at time zero. factory builds a fresh node
// value at boot and on every restart; the new value must recover its state
// from the disk.
func (w *World) AddNode(name string, factory func() Node) NodeID {
	if _, dup := w.byName[name]; dup {
		panic(fmt.Sprintf("sim: node %q added twice", name))
	}
	id := NodeID(len(w.nodes))
	// The node counts as up from the moment it is added, so that messages
	// sent to it by nodes booting before it in the same instant reach it;
	// its start event is queued ahead of any such delivery.
	n := &nodeState{
		id:      id,
		name:    name,
		factory: factory,
		disk:    &Disk{files: map[string]*File{}, now: w.Now},
		rand:    w.Stream("node/" + name),
		inc:     1,
		up:      true,
	}
	w.nodes = append(w.nodes, n)
	w.byName[name] = id
	w.net.AddNode(id)
	slot := w.alloc()
	w.slab[slot] = event{kind: evStart, node: id, gen: w.slab[slot].gen}
	w.queue.Push(w.now, slot)
	return id
}

// Nodes returns the IDs of every node in the order added.
func (w *World) Nodes() []NodeID {
	ids := make([]NodeID, len(w.nodes))
	for i := range ids {
		ids[i] = NodeID(i)
	}
	return ids
}

// ID returns the node with the given name.
func (w *World) ID(name string) (NodeID, bool) {
	id, ok := w.byName[name]
	return id, ok
}

// Name returns a node's name.
func (w *World) Name(id NodeID) string {
	if int(id) < 0 || int(id) >= len(w.nodes) {
		return fmt.Sprintf("node(%d)", id)
	}
	return w.nodes[id].name
}

// Node returns the live state machine of a node, nil while it is down.
// For inspection by tests and checkers after a run, never during one.
func (w *World) Node(id NodeID) Node { return w.nodes[id].node }

// Disk returns a node's disk, for inspection after a run.
func (w *World) Disk(id NodeID) *Disk { return w.nodes[id].disk }

// Up reports whether a node is running (paused counts as running).
func (w *World) Up(id NodeID) bool { return w.nodes[id].up }

// At schedules an action (a fault, an operator step, a probe) at time t.
func (w *World) At(t clock.Time, label string, action func(*World)) {
	if t < w.now {
		panic(fmt.Sprintf("sim: action %q scheduled at %v, in the past of %v", label, t, w.now))
	}
	slot := w.alloc()
	w.slab[slot] = event{kind: evAction, label: label, action: action, gen: w.slab[slot].gen}
	w.queue.Push(t, slot)
}

// Run runs the world to the end of its duration.
func (w *World) Run() error {
	_ = w.RunUntil(w.End()) // its error is kept in w.err
	w.checkReplayEnd()
	w.trace.endTrace()
	if err := w.FlushTrace(); err != nil {
		w.fail(fmt.Errorf("sim: writing trace: %w", err))
	}
	return w.err
}

// RunUntil processes every event due at or before t, then sets the clock to
// t. It returns the first error that stopped the run (budget, divergence
// from a replayed trace); a stopped world stays stopped.
func (w *World) RunUntil(t clock.Time) error {
	for w.stepUntil(t) {
	}
	if w.err == nil && t > w.now {
		w.now = t
	}
	return w.err
}

// Step processes the next event if it is due by the end of the run, and
// reports whether it did: for debuggers and benchmarks that walk a run one
// event at a time.
func (w *World) Step() bool { return w.stepUntil(w.End()) }

func (w *World) stepUntil(t clock.Time) bool {
	if w.err != nil {
		return false
	}
	at, ok := w.queue.Peek()
	if !ok || at > t {
		return false
	}
	_, slot, _ := w.queue.Pop()
	w.now = at
	w.popped++
	if w.popped > w.cfg.MaxEvents {
		w.fail(fmt.Errorf("%w: %d events by %v (seed %v)", ErrEventBudget, w.cfg.MaxEvents, w.now, w.cfg.Seed))
		return false
	}
	w.step(slot)
	return true
}

// Err returns the error that stopped the run, if any.
func (w *World) Err() error { return w.err }

func (w *World) fail(err error) {
	if w.err == nil {
		w.err = err
	}
}

// step handles one event. Fields are copied out of the slab before the
// handler runs: a handler schedules events, which may grow the slab.
func (w *World) step(slot uint32) {
	ev := &w.slab[slot]
	n := w.nodeOf(ev)
	switch ev.kind {
	case evAction:
		label, action := ev.label, ev.action
		w.release(slot)
		w.trace.recordString(w, kindAction, -1, -1, label)
		action(w)
	case evStart:
		w.release(slot)
		w.boot(n, kindStart)
	case evTimer:
		if ev.cancelled || !n.up || ev.inc != n.inc {
			w.discard(slot) // cancelled, or set by a process that has since died
			return
		}
		if n.paused {
			n.held = append(n.held, slot)
			return
		}
		t := ev.timer
		w.release(slot)
		w.trace.record(w, kindTimer, n.id, -1, t)
		n.node.Timer(n.env, t)
		recycle(t)
		w.maybeExit(n)
	case evDeliver:
		from, msg, shared := ev.from, ev.msg, ev.shared
		w.trace.sentAt = ev.sentAt
		if !n.up || ev.inc != n.inc {
			w.release(slot)
			w.trace.record(w, kindDrop, n.id, from, msg)
			if _, isReset := msg.(ConnectionReset); !isReset {
				w.refuse(n.id, from)
			}
			if !shared {
				recycle(msg)
			}
			return
		}
		if n.paused {
			n.held = append(n.held, slot)
			return
		}
		w.release(slot)
		w.trace.record(w, kindDeliver, n.id, from, msg)
		if r, isReset := msg.(ConnectionReset); isReset {
			w.closeConnection(n, r.Peer)
		}
		n.node.Receive(n.env, from, msg)
		if !shared {
			recycle(msg)
		}
		w.maybeExit(n)
	}
}

// maybeExit ends the process of a node whose handler called Exit.
func (w *World) maybeExit(n *nodeState) {
	if n.exiting {
		n.exiting = false
		w.kill(n)
		w.announce(kindStop, n.id)
	}
}

// recycle hands a message or timer back to its node if it asks for that.
func recycle(v any) {
	if r, ok := v.(Recycler); ok {
		r.Recycle()
	}
}

// discard releases an event that will never be handled, recycling what it
// carried.
func (w *World) discard(slot uint32) {
	ev := &w.slab[slot]
	switch {
	case ev.kind == evTimer:
		recycle(ev.timer)
	case ev.kind == evDeliver && !ev.shared:
		recycle(ev.msg)
	}
	w.release(slot)
}

func (w *World) nodeOf(ev *event) *nodeState {
	if ev.kind == evAction {
		return nil
	}
	return w.nodes[ev.node]
}

func (w *World) alloc() uint32 {
	if k := len(w.free); k > 0 {
		slot := w.free[k-1]
		w.free = w.free[:k-1]
		return slot
	}
	w.slab = append(w.slab, event{})
	return uint32(len(w.slab) - 1)
}

func (w *World) release(slot uint32) {
	ev := &w.slab[slot]
	*ev = event{gen: ev.gen + 1}
	w.free = append(w.free, slot)
}

// send routes a message through the network on from's connection to to,
// and queues each copy that survives. A copy is addressed to the receiver
// incarnation the connection is bound to: if that process is gone when it
// lands, the copy is refused (see connection.go).
func (w *World) send(from, to NodeID, msg Message) {
	if msg == nil {
		panic(fmt.Sprintf("sim: %s sent a nil message", w.nodes[from].name))
	}
	if int(to) < 0 || int(to) >= len(w.nodes) {
		panic(fmt.Sprintf("sim: %s sent %T to unknown node %d", w.nodes[from].name, msg, to))
	}
	c := w.nodes[from].conn(to)
	if c.inc == 0 {
		c.inc = w.nodes[to].inc // open a connection to the receiver as it is now
	}
	w.sendAs(from, to, c.inc, msg)
}

// sendAs queues the copies of msg the network lets through, addressed to
// incarnation inc of the receiver. Like TCP, a connection delivers in
// order: a copy never lands before one sent earlier from the same sender
// to the same receiver, however the latency jitters.
func (w *World) sendAs(from, to NodeID, inc uint32, msg Message) {
	delays, copies := w.net.Route(from, to)
	c := w.nodes[from].conn(to)
	if copies == 0 {
		recycle(msg) // lost: the network is done with it at once
		return
	}
	shared := copies > 1
	for i := range copies {
		at := max(w.now.Add(delays[i]), c.lastArrival)
		c.lastArrival = at
		slot := w.alloc()
		w.slab[slot] = event{kind: evDeliver, node: to, from: from, inc: inc, sentAt: w.now, msg: msg, shared: shared, gen: w.slab[slot].gen}
		w.queue.Push(at, slot)
	}
}

func (w *World) setTimer(n *nodeState, d time.Duration, t Timer) TimerID {
	if t == nil {
		panic(fmt.Sprintf("sim: %s set a nil timer", n.name))
	}
	if d < 0 {
		d = 0
	}
	slot := w.alloc()
	gen := w.slab[slot].gen
	w.slab[slot] = event{kind: evTimer, node: n.id, inc: n.inc, timer: t, gen: gen}
	w.queue.Push(w.now.Add(d), slot)
	return TimerID(uint64(gen)<<32 | uint64(slot))
}

func (w *World) cancelTimer(n *nodeState, id TimerID) {
	slot, gen := uint32(id), uint32(id>>32)
	if int(slot) >= len(w.slab) {
		return
	}
	ev := &w.slab[slot]
	if ev.gen == gen && ev.kind == evTimer && ev.node == n.id && !ev.cancelled {
		// A queued timer leaves the queue at once; one a paused node holds
		// is marked, and dropped when the node resumes.
		if w.queue.Remove(slot) {
			w.discard(slot)
		} else {
			ev.cancelled = true
		}
	}
}

// boot builds a fresh node value and starts it. A restart is a new
// incarnation; the first boot keeps the one the node was added with.
func (w *World) boot(n *nodeState, kind traceKind) {
	if kind == kindRestart {
		n.inc++
	}
	n.up = true
	n.paused = false
	n.poweredOff = false
	n.node = n.factory()
	n.env = &nodeEnv{w: w, n: n, inc: n.inc}
	if kind == kindRestart {
		w.announce(kind, n.id)
	} else {
		w.trace.recordString(w, kind, n.id, -1, "")
	}
	n.node.Start(n.env)
	w.maybeExit(n)
}

// OnLifecycle registers f to hear of every crash, power loss, restart,
// pause and resume as it happens, so that checkers can tell when a node was
// down. kind is the trace's name for it ("crash", "power-loss", ...).
func (w *World) OnLifecycle(f func(kind string, node NodeID)) { w.lifecycle = f }

func (w *World) announce(kind traceKind, id NodeID) {
	w.trace.recordString(w, kind, id, -1, "")
	if w.lifecycle != nil {
		w.lifecycle(kind.String(), id)
	}
}

// Crash kills a node's process: its memory and pending timers are gone, its
// disk keeps everything appended. It reports false if the node was down.
func (w *World) Crash(id NodeID) bool {
	n := w.nodes[id]
	if !n.up {
		return false
	}
	w.kill(n)
	w.announce(kindCrash, id)
	return true
}

// PowerLoss cuts a node's power: as a crash, and its disk keeps only what
// was synced. A node already down still loses its unsynced data.
func (w *World) PowerLoss(id NodeID) {
	n := w.nodes[id]
	if n.up {
		w.kill(n)
	}
	n.poweredOff = true
	n.disk.loseUnsynced()
	w.announce(kindPowerLoss, id)
}

func (w *World) kill(n *nodeState) {
	n.up = false
	n.paused = false
	n.exiting = false
	n.node = nil
	n.env = nil
	n.inc++
	for i := range n.conns {
		n.conns[i].inc = 0 // a process's connections die with it
	}
	for _, slot := range n.held {
		w.discard(slot)
	}
	n.held = n.held[:0]
}

// Restart boots a fresh value of a down node, which recovers from its disk.
// It reports false if the node was already up.
func (w *World) Restart(id NodeID) bool {
	n := w.nodes[id]
	if n.up {
		return false
	}
	w.boot(n, kindRestart)
	return true
}

// Signal hands a running node msg from outside the network, as an
// operator's SIGTERM reaches a process: delivered now, from the node
// itself (held while it is paused), so what the node does in answer — an
// Exit included — happens in its own handler. It reports false if the
// node is down.
func (w *World) Signal(id NodeID, msg Message) bool {
	n := w.nodes[id]
	if !n.up {
		return false
	}
	slot := w.alloc()
	w.slab[slot] = event{kind: evDeliver, node: id, from: id, inc: n.inc, sentAt: w.now, msg: msg, gen: w.slab[slot].gen}
	w.queue.Push(w.now, slot)
	return true
}

// Pause stalls a running node, as a long GC pause or a stopped VM does:
// messages and timers that reach it wait until Resume.
func (w *World) Pause(id NodeID) bool {
	n := w.nodes[id]
	if !n.up || n.paused {
		return false
	}
	n.paused = true
	w.announce(kindPause, id)
	return true
}

// Resume lets a paused node run again: everything that waited is handled
// now, in the order it arrived, timers late.
func (w *World) Resume(id NodeID) bool {
	n := w.nodes[id]
	if !n.up || !n.paused {
		return false
	}
	n.paused = false
	w.announce(kindResume, id)
	for _, slot := range n.held {
		w.queue.Push(w.now, slot)
	}
	n.held = n.held[:0]
	return true
}

// nodeEnv is a node's window on the world, valid for one incarnation.
type nodeEnv struct {
	w   *World
	n   *nodeState
	inc uint32
}

func (e *nodeEnv) live() *nodeState {
	if e.n.inc != e.inc {
		panic(fmt.Sprintf("sim: %s used the env of a dead incarnation", e.n.name))
	}
	return e.n
}

func (e *nodeEnv) Now() clock.Time  { return e.w.now }
func (e *nodeEnv) Self() NodeID     { return e.n.id }
func (e *nodeEnv) Name() string     { return e.n.name }
func (e *nodeEnv) Rand() *rand.Rand { return e.n.rand }
func (e *nodeEnv) Disk() *Disk      { return e.n.disk }

func (e *nodeEnv) Send(to NodeID, msg Message) { e.w.send(e.live().id, to, msg) }

func (e *nodeEnv) SetTimer(d time.Duration, t Timer) TimerID {
	return e.w.setTimer(e.live(), d, t)
}

func (e *nodeEnv) CancelTimer(id TimerID) { e.w.cancelTimer(e.live(), id) }

func (e *nodeEnv) Exit() { e.live().exiting = true }

func (e *nodeEnv) Log(format string, args ...any) {
	if e.w.trace.sink != nil {
		e.w.trace.log(e.w, e.n.id, fmt.Sprintf(format, args...))
	}
}
