package sim

import (
	"math/rand/v2"
	"time"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/network"
)

// NodeID names a node of the world.
type NodeID = network.NodeID

// Node is an event-driven state machine with no I/O of its own: everything
// it sees arrives as a call, everything it does goes through its Env.
type Node interface {
	// Start boots or reboots the node: rebuild state from env.Disk().
	Start(env Env)
	// Receive handles a message from another node.
	Receive(env Env, from NodeID, msg Message)
	// Timer handles a timer the node set.
	Timer(env Env, t Timer)
}

// Message is a value one node sends another. The network may deliver it
// twice or never; receivers must not assume either way. Messages are values:
// no node may keep a pointer into one that another node can see, and one
// that is a Recycler is handed back once handled, so its receiver copies
// what it keeps.
type Message interface {
	// AppendSummary appends a short, deterministic description for the
	// trace ("fetch orders/0 offset=12 epoch=3"); it feeds the trace hash.
	AppendSummary(b []byte) []byte
}

// Timer is the value a node sets a timer with and receives back when it fires.
type Timer interface {
	// AppendSummary appends a short, deterministic description for the trace.
	AppendSummary(b []byte) []byte
}

// Recycler is a message or timer value the world hands back once it is done
// with it, so that a node can reuse it rather than allocate one per event:
// the world calls Recycle exactly once, after the handler it was delivered
// to returns (or when it is dropped, cancelled or dies with its receiver),
// and never for a message the network duplicated. The handler must not keep
// it, and a sender must not send one value twice.
type Recycler interface {
	Recycle()
}

// TimerID identifies a pending timer, for CancelTimer.
type TimerID uint64

// Env is all a node may touch.
type Env interface {
	// Now is the current virtual time.
	Now() clock.Time
	// Self is the node's own ID.
	Self() NodeID
	// Name is the node's name ("broker-1").
	Name() string
	// Send hands a message to the network.
	Send(to NodeID, msg Message)
	// SetTimer arranges for Timer(t) to be called after d.
	SetTimer(d time.Duration, t Timer) TimerID
	// CancelTimer stops a pending timer; cancelling a fired or cancelled
	// timer does nothing.
	CancelTimer(id TimerID)
	// Rand is the node's own random stream.
	Rand() *rand.Rand
	// Disk is the node's storage; it survives crashes.
	Disk() *Disk
	// Log writes a line to the trace (when one is written); it does not
	// affect the run.
	Log(format string, args ...any)
	// Exit ends the process once the handler that calls it returns: an
	// orderly exit, after which the node is down as after a crash (its
	// timers and unsent work gone, its connections closed) but announced
	// as a stop. What it meant to keep it synced to disk first.
	Exit()
}
