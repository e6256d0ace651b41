package sim

import (
	"strconv"
	"time"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/network"
)

// ping is the message the test nodes exchange.
type ping struct{ N int }

func (p ping) AppendSummary(b []byte) []byte {
	return strconv.AppendInt(append(b, "ping "...), int64(p.N), 10)
}

// tick is the timer the test nodes set.
type tick struct{ N int }

func (t tick) AppendSummary(b []byte) []byte {
	return strconv.AppendInt(append(b, "tick "...), int64(t.N), 10)
}

// arrival is what a probe saw.
type arrival struct {
	At   clock.Time
	From NodeID // -1 for timers
	N    int
}

// probe records everything that reaches it into a log the test owns, and
// does whatever its hooks say.
type probe struct {
	seen    *[]arrival
	onStart func(env Env)
	onMsg   func(env Env, from NodeID, p ping)
	onTimer func(env Env, t tick)
	onReset func(env Env, r ConnectionReset)
	memory  int // in-process state, lost on crash
}

func (p *probe) Start(env Env) {
	if p.onStart != nil {
		p.onStart(env)
	}
}

func (p *probe) Receive(env Env, from NodeID, msg Message) {
	if r, ok := msg.(ConnectionReset); ok {
		if p.onReset != nil {
			p.onReset(env, r)
		}
		return
	}
	m := msg.(ping)
	p.memory++
	*p.seen = append(*p.seen, arrival{env.Now(), from, m.N})
	if p.onMsg != nil {
		p.onMsg(env, from, m)
	}
}

func (p *probe) Timer(env Env, t Timer) {
	tk := t.(tick)
	*p.seen = append(*p.seen, arrival{env.Now(), -1, tk.N})
	if p.onTimer != nil {
		p.onTimer(env, tk)
	}
}

func newWorld(t interface{ Fatalf(string, ...any) }, link network.Link) *World {
	w, err := New(Config{Seed: 1, Duration: time.Hour, Network: link})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return w
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }
