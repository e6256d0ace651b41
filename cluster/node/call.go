package node

import (
	"time"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/sim"
)

// maxRetransmitGap caps the doubling of retransmission intervals.
const MaxRetransmitGap = time.Second

// Call is one outstanding request, re-sent with a doubling interval until
// it is answered or replaced — what TCP does for a segment — or a backoff
// before the next request is sent. The receiver answers a re-sent request
// like the original, so a lost request or a lost response costs one
// retransmission interval, not a timeout.
type Call struct {
	ID     uint64
	Sent   bool
	sentAt clock.Time
	To     sim.NodeID
	msg    sim.Message
	gap    time.Duration
	Timer  sim.TimerID
}

// Send sends msg as request id and arms its retransmission timer t. The
// call keeps msg to re-send and sends copies of it: the world recycles each
// copy once delivered (sim.Recycler), never the one kept here.
func (c *Call) Send(rec *Recyclers, env sim.Env, id uint64, to sim.NodeID, msg sim.Message, retransmit time.Duration, t Timer) {
	c.end(env)
	*c = Call{ID: id, Sent: true, sentAt: env.Now(), To: to, msg: msg, gap: retransmit}
	env.Send(to, rec.CopyOf(msg))
	t.ID = id
	c.Timer = rec.SetTimer(env, retransmit, t)
}

// Backoff waits before the next request: the timer t fires with id.
func (c *Call) Backoff(rec *Recyclers, env sim.Env, id uint64, after time.Duration, t Timer) {
	c.end(env)
	*c = Call{ID: id}
	t.ID = id
	c.Timer = rec.SetTimer(env, after, t)
}

// OnTimer handles the call's timer: it retransmits, or, at the end of a
// backoff, reports that the next request is due.
func (c *Call) OnTimer(rec *Recyclers, env sim.Env, t Timer) (due bool) {
	if c.ID == 0 || t.ID != c.ID {
		return false
	}
	if !c.Sent {
		return true
	}
	env.Send(c.To, rec.CopyOf(c.msg))
	c.gap = min(2*c.gap, MaxRetransmitGap)
	c.Timer = rec.SetTimer(env, c.gap, t)
	return false
}

// end stops the call's timer and recycles the request it kept.
func (c *Call) end(env sim.Env) {
	env.CancelTimer(c.Timer)
	if r, ok := c.msg.(sim.Recycler); ok {
		r.Recycle()
	}
}

// Answered reports whether id answers the outstanding request, and if so
// settles it; sentAt is when the request was first sent.
func (c *Call) Answered(env sim.Env, id uint64) (sentAt clock.Time, ok bool) {
	if c.ID == 0 || !c.Sent || id != c.ID {
		return 0, false
	}
	sentAt = c.sentAt
	c.end(env)
	*c = Call{}
	return sentAt, true
}

// SentAt is when the outstanding request was first sent.
func (c *Call) SentAt() clock.Time { return c.sentAt }

// Cancel forgets the call.
func (c *Call) Cancel(env sim.Env) {
	c.end(env)
	*c = Call{}
}
