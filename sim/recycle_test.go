package sim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/network"
)

// chit is a message or timer that counts how it was used.
type chit struct {
	handled, recycled   int
	handledAfterRecycle bool
}

func (*chit) AppendSummary(b []byte) []byte { return append(b, "chit"...) }
func (k *chit) Recycle()                    { k.recycled++ }

// chits sends and sets chits and records what comes back.
type chits struct {
	to       NodeID
	sent     *[]*chit
	cancel   *[]*chit
	fired    *[]*chit
	sendOnly bool
}

func (n *chits) Start(env Env) {
	if n.sendOnly {
		return
	}
	for i := range 3000 {
		*n.sent = append(*n.sent, &chit{})
		env.SetTimer(time.Duration(i)*time.Millisecond, &chit{}) // fires: a send
	}
	for range 3000 {
		k := &chit{}
		*n.cancel = append(*n.cancel, k)
		env.CancelTimer(env.SetTimer(time.Hour/2, k))
	}
}

func (n *chits) Receive(_ Env, _ NodeID, msg Message) {
	k, ok := msg.(*chit)
	if !ok {
		return // a connection reset, after the crash
	}
	k.handled++
	k.handledAfterRecycle = k.handledAfterRecycle || k.recycled > 0
}

func (n *chits) Timer(env Env, t Timer) {
	k := t.(*chit)
	k.handled++
	*n.fired = append(*n.fired, k)
	sent := (*n.sent)[len(*n.fired)-1]
	env.Send(n.to, sent)
}

// The world hands back (Recycler) every message and timer once it is done
// with it: after the handler, when lost, dropped at a dead node or
// cancelled; a duplicated message never, as another copy may be handled.
func TestWorldRecyclesEachMessageAndTimerOnceDone(t *testing.T) {
	w := newWorld(t, network.Link{Latency: ms(2), Loss: 0.1, Duplicate: 0.1})
	var sent, cancel, fired []*chit
	b := w.AddNode("b", func() Node { return &chits{sendOnly: true, fired: new([]*chit)} })
	w.AddNode("a", func() Node {
		return &chits{to: b, sent: &sent, cancel: &cancel, fired: &fired}
	})
	w.At(clock.At(time.Second), "crash b", func(w *World) { w.Crash(b) })
	w.At(clock.At(2*time.Second), "restart b", func(w *World) { w.Restart(b) })
	require.NoError(t, w.Run())

	require.Len(t, fired, 3000)
	for _, k := range fired {
		assert.Equal(t, 1, k.recycled, "a fired timer is recycled once, after its handler")
	}
	for _, k := range cancel {
		assert.Equal(t, 1, k.recycled, "a cancelled timer is recycled once")
		assert.Zero(t, k.handled)
	}
	recycled := 0
	for _, k := range sent {
		require.LessOrEqual(t, k.recycled, 1, "recycled twice")
		assert.False(t, k.handledAfterRecycle, "handled after it was recycled")
		if k.handled == 2 {
			assert.Zero(t, k.recycled, "a duplicated message is never recycled")
		}
		recycled += k.recycled
	}
	// Lost, dropped at the dead node, or delivered once: all but the
	// duplicated ~10%.
	assert.Greater(t, recycled, 2500)
	assert.Less(t, recycled, 2900)
}
