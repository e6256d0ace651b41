package cluster

import (
	"time"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/sim"
)

// maxRetransmitGap caps the doubling of retransmission intervals.
const maxRetransmitGap = time.Second

// call is one outstanding request, re-sent with a doubling interval until
// it is answered or replaced — what TCP does for a segment — or a backoff
// before the next request is sent. The receiver answers a re-sent request
// like the original, so a lost request or a lost response costs one
// retransmission interval, not a timeout.
type call struct {
	id     uint64
	sent   bool
	sentAt clock.Time
	to     sim.NodeID
	msg    sim.Message
	gap    time.Duration
	timer  sim.TimerID
}

// send sends msg as request id and arms its retransmission timer t. The
// call keeps msg to re-send and sends copies of it: the world recycles each
// copy once delivered (sim.Recycler), never the one kept here.
func (c *call) send(rec *recyclers, env sim.Env, id uint64, to sim.NodeID, msg sim.Message, retransmit time.Duration, t timer) {
	c.end(env)
	*c = call{id: id, sent: true, sentAt: env.Now(), to: to, msg: msg, gap: retransmit}
	env.Send(to, rec.copyOf(msg))
	t.id = id
	c.timer = rec.setTimer(env, retransmit, t)
}

// backoff waits before the next request: the timer t fires with id.
func (c *call) backoff(rec *recyclers, env sim.Env, id uint64, after time.Duration, t timer) {
	c.end(env)
	*c = call{id: id}
	t.id = id
	c.timer = rec.setTimer(env, after, t)
}

// onTimer handles the call's timer: it retransmits, or, at the end of a
// backoff, reports that the next request is due.
func (c *call) onTimer(rec *recyclers, env sim.Env, t timer) (due bool) {
	if c.id == 0 || t.id != c.id {
		return false
	}
	if !c.sent {
		return true
	}
	env.Send(c.to, rec.copyOf(c.msg))
	c.gap = min(2*c.gap, maxRetransmitGap)
	c.timer = rec.setTimer(env, c.gap, t)
	return false
}

// end stops the call's timer and recycles the request it kept.
func (c *call) end(env sim.Env) {
	env.CancelTimer(c.timer)
	if r, ok := c.msg.(sim.Recycler); ok {
		r.Recycle()
	}
}

// answered reports whether id answers the outstanding request, and if so
// settles it; sentAt is when the request was first sent.
func (c *call) answered(env sim.Env, id uint64) (sentAt clock.Time, ok bool) {
	if c.id == 0 || !c.sent || id != c.id {
		return 0, false
	}
	sentAt = c.sentAt
	c.end(env)
	*c = call{}
	return sentAt, true
}

// cancel forgets the call.
func (c *call) cancel(env sim.Env) {
	c.end(env)
	*c = call{}
}
