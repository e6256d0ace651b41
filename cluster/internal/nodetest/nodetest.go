// Package nodetest is a node's world reduced to what a unit test of one
// handler needs: an Env whose sent messages are kept for the test to read
// and whose timers never fire. Tests of brokers, controllers and clients
// import it; nothing else may.
package nodetest

import (
	"math/rand/v2"
	"time"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/sim"
)

// Env is a sim.Env for unit tests.
type Env struct {
	T      clock.Time // the time: it stands still unless the test moves it
	disk   *sim.Disk
	rand   *rand.Rand
	Sent   []Sent
	Armed  []sim.Timer // every timer set, in order, for a test to fire by hand
	Exited bool        // the node called Exit
}

// Sent is one message a node sent.
type Sent struct {
	To  sim.NodeID
	Msg sim.Message
}

// NewEnv returns an Env with an empty disk, at time 0.
func NewEnv() *Env {
	return &Env{disk: sim.NewDisk(), rand: rand.New(rand.NewPCG(1, 2))}
}

func (e *Env) Now() clock.Time                     { return e.T }
func (e *Env) Self() sim.NodeID                    { return 0 }
func (e *Env) Name() string                        { return "test" }
func (e *Env) Send(to sim.NodeID, msg sim.Message) { e.Sent = append(e.Sent, Sent{to, msg}) }
func (e *Env) CancelTimer(sim.TimerID)             {}
func (e *Env) Rand() *rand.Rand                    { return e.rand }
func (e *Env) Disk() *sim.Disk                     { return e.disk }
func (e *Env) Log(string, ...any)                  {}
func (e *Env) Exit()                               { e.Exited = true }
func (e *Env) SetTimer(_ time.Duration, t sim.Timer) sim.TimerID {
	e.Armed = append(e.Armed, t)
	return sim.TimerID(len(e.Armed))
}

// Last returns the last message e sent of type M.
func Last[M sim.Message](e *Env) (M, bool) {
	for i := len(e.Sent) - 1; i >= 0; i-- {
		if m, ok := e.Sent[i].Msg.(M); ok {
			return m, true
		}
	}
	var zero M
	return zero, false
}
