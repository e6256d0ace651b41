package sim

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/network"
)

func TestMessagesArriveAfterLatencyInTimeOrder(t *testing.T) {
	w := newWorld(t, network.Link{Latency: ms(5)})
	var seen []arrival
	b := w.AddNode("b", func() Node { return &probe{seen: &seen} })
	w.AddNode("a", func() Node {
		return &probe{seen: new([]arrival), onStart: func(env Env) {
			for i := range 3 {
				env.Send(b, ping{i})
			}
			env.SetTimer(ms(2), tick{})
		}, onTimer: func(env Env, _ tick) { env.Send(b, ping{9}) }}
	})
	require.NoError(t, w.Run())
	a, _ := w.ID("a")
	want := []arrival{
		{clock.At(ms(5)), a, 0}, {clock.At(ms(5)), a, 1}, {clock.At(ms(5)), a, 2},
		{clock.At(ms(7)), a, 9},
	}
	assert.Empty(t, cmp.Diff(want, seen))
}

// Latency jitters within its bounds, but one connection delivers in order,
// as TCP does: jitter never reorders what one sender sends one receiver.
func TestJitterWithinBoundsKeepsAConnectionInOrder(t *testing.T) {
	for _, shape := range []network.Shape{network.Uniform, network.LogNormal, network.Pareto} {
		t.Run(shape.String(), func(t *testing.T) {
			link := network.Link{Latency: ms(10), Jitter: ms(4), Shape: shape}
			w := newWorld(t, link)
			var seen []arrival
			b := w.AddNode("b", func() Node { return &probe{seen: &seen} })
			w.AddNode("a", func() Node {
				return &probe{seen: new([]arrival), onStart: func(env Env) {
					for i := range 2000 {
						env.Send(b, ping{i})
					}
				}}
			})
			require.NoError(t, w.Run())
			require.Len(t, seen, 2000)
			reordered := 0
			for i, s := range seen {
				if i > 0 {
					require.GreaterOrEqual(t, s.At, seen[i-1].At, "delivered out of time order")
					if s.N < seen[i-1].N {
						reordered++
					}
				}
				delay := s.At.Since()
				require.GreaterOrEqual(t, delay, ms(10))
				if shape == network.Uniform {
					require.Less(t, delay, ms(14))
				}
				require.LessOrEqual(t, delay, ms(10)+100*ms(4), "long tail not capped")
			}
			assert.Zero(t, reordered, "a connection delivers in the order sent")
		})
	}
}

func TestLossAndDuplicationRates(t *testing.T) {
	const n = 100_000
	const loss, dup = 0.1, 0.05
	w := newWorld(t, network.Link{Latency: ms(1), Loss: loss, Duplicate: dup})
	var seen []arrival
	b := w.AddNode("b", func() Node { return &probe{seen: &seen} })
	w.AddNode("a", func() Node {
		return &probe{seen: new([]arrival), onStart: func(env Env) {
			for i := range n {
				env.Send(b, ping{i})
			}
		}}
	})
	require.NoError(t, w.Run())
	copies := map[int]int{}
	for _, s := range seen {
		copies[s.N]++
	}
	lost, doubled := n-len(copies), 0
	for _, c := range copies {
		if c == 2 {
			doubled++
		}
	}
	// Within five standard deviations of the binomial: a bug fails, chance
	// essentially never does (and the seed is fixed anyway).
	within := func(got int, p float64, of int) {
		mean, sd := p*float64(of), math.Sqrt(float64(of)*p*(1-p))
		assert.InDelta(t, mean, float64(got), 5*sd, "rate %v over %d", p, of)
	}
	within(lost, loss, n)
	within(doubled, dup, n-lost)
}

func TestDirectedPartitionAndHeal(t *testing.T) {
	w := newWorld(t, network.Link{Latency: ms(1)})
	var atA, atB []arrival
	var a, b NodeID
	a = w.AddNode("a", func() Node {
		return &probe{seen: &atA, onTimer: func(env Env, tk tick) { env.Send(b, ping{tk.N}) }, onStart: func(env Env) {
			for i := range 4 {
				env.SetTimer(ms(10*i+5), tick{i})
			}
		}}
	})
	b = w.AddNode("b", func() Node {
		return &probe{seen: &atB, onTimer: func(env Env, tk tick) { env.Send(a, ping{tk.N}) }, onStart: func(env Env) {
			for i := range 4 {
				env.SetTimer(ms(10*i+5), tick{i})
			}
		}}
	})
	w.At(clock.At(ms(10)), "cut a->b", func(w *World) { w.Network().Block(a, b) })
	w.At(clock.At(ms(30)), "heal", func(w *World) { w.Network().Heal() })
	require.NoError(t, w.Run())
	got := func(seen []arrival) (ns []int) {
		for _, s := range seen {
			if s.From >= 0 {
				ns = append(ns, s.N)
			}
		}
		return ns
	}
	assert.Equal(t, []int{0, 3}, got(atB), "a->b blocked during [10ms,30ms)")
	assert.Equal(t, []int{0, 1, 2, 3}, got(atA), "b->a never blocked")
}

func TestPartitionGroupsAndIsolate(t *testing.T) {
	net, err := network.New(1, network.Link{})
	require.NoError(t, err)
	for i := range 4 {
		net.AddNode(network.NodeID(i))
	}
	net.Partition([]network.NodeID{0}, []network.NodeID{1, 2})
	assert.True(t, net.Blocked(0, 1))
	assert.True(t, net.Blocked(2, 0))
	assert.False(t, net.Blocked(1, 2), "same group")
	assert.False(t, net.Blocked(0, 3), "node in no group keeps its links")
	net.Heal()
	net.Isolate(3)
	for i := range 3 {
		assert.True(t, net.Blocked(3, network.NodeID(i)))
		assert.True(t, net.Blocked(network.NodeID(i), 3))
	}
	assert.False(t, net.Blocked(0, 1))
}

// counter keeps a count in memory and appends every increment to disk,
// syncing when told to; on start it recovers the count from disk.
type counter struct {
	recovered int
	memory    int
	syncEvery int
}

type increment struct{}

func (increment) AppendSummary(b []byte) []byte { return append(b, "inc"...) }

func (c *counter) Start(env Env) {
	c.recovered = env.Disk().Open("log").Len()
	c.memory = c.recovered
}

func (c *counter) Receive(env Env, _ NodeID, _ Message) {
	c.memory++
	f := env.Disk().Open("log")
	f.Append(c.memory)
	if c.syncEvery > 0 && c.memory%c.syncEvery == 0 {
		f.Sync()
	}
}

func (c *counter) Timer(Env, Timer) {}

func runCounter(t *testing.T, fault func(w *World, id NodeID)) (*World, NodeID) {
	t.Helper()
	w := newWorld(t, network.Link{Latency: ms(1)})
	var c NodeID
	c = w.AddNode("counter", func() Node { return &counter{syncEvery: 4} })
	w.AddNode("feeder", func() Node {
		return &probe{seen: new([]arrival), onStart: func(env Env) {
			for range 10 {
				env.Send(c, increment{})
			}
		}}
	})
	w.At(clock.At(ms(5)), "fault", func(w *World) { fault(w, c) })
	w.At(clock.At(ms(6)), "restart", func(w *World) { w.Restart(c) })
	require.NoError(t, w.Run())
	return w, c
}

func TestCrashDiscardsMemoryKeepsDisk(t *testing.T) {
	w, c := runCounter(t, func(w *World, id NodeID) { require.True(t, w.Crash(id)) })
	got := w.Node(c).(*counter)
	assert.Equal(t, 10, got.recovered, "a process crash keeps every appended record")
	assert.Equal(t, 10, w.Disk(c).Open("log").Len())
}

func TestPowerLossTruncatesToSynced(t *testing.T) {
	w, c := runCounter(t, func(w *World, id NodeID) { w.PowerLoss(id) })
	got := w.Node(c).(*counter)
	assert.Equal(t, 8, got.recovered, "only the records synced (every 4th) survive")
	assert.Equal(t, 8, w.Disk(c).Open("log").Synced())
}

func TestCrashLosesInMemoryState(t *testing.T) {
	w := newWorld(t, network.Link{Latency: ms(1)})
	var seen []arrival
	var p NodeID
	p = w.AddNode("p", func() Node { return &probe{seen: &seen} })
	w.AddNode("q", func() Node {
		return &probe{seen: new([]arrival), onStart: func(env Env) {
			env.Send(p, ping{1})
			env.SetTimer(ms(10), tick{})
		}, onTimer: func(env Env, _ tick) { env.Send(p, ping{2}) },
			// ping 2 went out on the connection to p's dead incarnation and
			// was refused: send it again on a new one.
			onReset: func(env Env, _ ConnectionReset) { env.Send(p, ping{2}) }}
	})
	w.At(clock.At(ms(5)), "crash", func(w *World) { w.Crash(p) })
	w.At(clock.At(ms(10)), "restart", func(w *World) { w.Restart(p) })
	require.NoError(t, w.Run())
	assert.Equal(t, 1, w.Node(p).(*probe).memory, "a fresh value after restart sees only the later message")
}

func TestExitStopsTheNodeAfterItsHandler(t *testing.T) {
	w := newWorld(t, network.Link{Latency: ms(1)})
	var seen []arrival
	var lifecycle []string
	w.OnLifecycle(func(kind string, _ NodeID) { lifecycle = append(lifecycle, kind) })
	p := w.AddNode("p", func() Node {
		return &probe{seen: &seen, onStart: func(env Env) {
			env.SetTimer(ms(5), tick{1})
			env.SetTimer(ms(20), tick{2}) // dies with the process
		}, onTimer: func(env Env, tk tick) {
			if tk.N == 1 {
				env.Exit()
			}
		}}
	})
	w.At(clock.At(ms(10)), "check", func(w *World) {
		assert.False(t, w.Up(p), "down once the handler that called Exit returned")
	})
	require.NoError(t, w.Run())
	assert.Equal(t, []arrival{{clock.At(ms(5)), -1, 1}}, seen)
	assert.Equal(t, []string{"stop"}, lifecycle)
	assert.True(t, w.Restart(p), "a stopped node restarts")
}

func TestMessagesToADownNodeAreDropped(t *testing.T) {
	w := newWorld(t, network.Link{Latency: ms(10)})
	var seen []arrival
	var p NodeID
	p = w.AddNode("p", func() Node { return &probe{seen: &seen} })
	w.AddNode("q", func() Node {
		return &probe{seen: new([]arrival), onStart: func(env Env) { env.Send(p, ping{1}) }}
	})
	// Down when the message lands, and back up before it would have: the
	// message was on a connection to the dead process, so it never arrives.
	w.At(clock.At(ms(2)), "crash", func(w *World) { w.Crash(p) })
	w.At(clock.At(ms(4)), "restart", func(w *World) { w.Restart(p) })
	require.NoError(t, w.Run())
	assert.Empty(t, seen)
}

func TestPauseDelaysTimersAndMessages(t *testing.T) {
	w := newWorld(t, network.Link{Latency: ms(1)})
	var seen []arrival
	var p NodeID
	p = w.AddNode("p", func() Node {
		return &probe{seen: &seen, onStart: func(env Env) { env.SetTimer(ms(10), tick{7}) }}
	})
	q := w.AddNode("q", func() Node {
		return &probe{seen: new([]arrival), onStart: func(env Env) { env.SetTimer(ms(20), tick{}) },
			onTimer: func(env Env, _ tick) { env.Send(p, ping{1}); env.Send(p, ping{2}) }}
	})
	w.At(clock.At(ms(5)), "pause", func(w *World) { require.True(t, w.Pause(p)) })
	w.At(clock.At(ms(50)), "resume", func(w *World) { require.True(t, w.Resume(p)) })
	require.NoError(t, w.Run())
	at50 := clock.At(ms(50))
	assert.Empty(t, cmp.Diff([]arrival{{at50, -1, 7}, {at50, q, 1}, {at50, q, 2}}, seen),
		"the timer fires late and messages wait, all in arrival order")
}

func TestCancelledTimersNeverFire(t *testing.T) {
	w := newWorld(t, network.Link{})
	var seen []arrival
	w.AddNode("p", func() Node {
		return &probe{seen: &seen, onStart: func(env Env) {
			var ids []TimerID
			for i := range 100 {
				ids = append(ids, env.SetTimer(ms(i+1), tick{i}))
			}
			for i := 0; i < 100; i += 2 {
				env.CancelTimer(ids[i])
				env.CancelTimer(ids[i]) // twice is harmless
			}
		}}
	})
	require.NoError(t, w.Run())
	var fired []int
	for _, s := range seen {
		fired = append(fired, s.N)
	}
	require.Len(t, fired, 50)
	for _, n := range fired {
		assert.Equal(t, 1, n%2, "timer %d was cancelled", n)
	}
}

// A timer that came due while its node was paused waits among the node's
// held events, out of the queue; cancelled there, it must not fire when
// the node resumes.
func TestTimerCancelledWhileHeldNeverFires(t *testing.T) {
	w := newWorld(t, network.Link{})
	var seen []arrival
	var env Env
	var id TimerID
	p := w.AddNode("p", func() Node {
		return &probe{seen: &seen, onStart: func(e Env) {
			env, id = e, e.SetTimer(ms(10), tick{1})
			e.SetTimer(ms(30), tick{2})
		}}
	})
	w.At(clock.At(ms(5)), "pause", func(w *World) { require.True(t, w.Pause(p)) })
	w.At(clock.At(ms(15)), "cancel the held timer", func(*World) { env.CancelTimer(id) })
	w.At(clock.At(ms(20)), "resume", func(w *World) { require.True(t, w.Resume(p)) })
	require.NoError(t, w.Run())
	require.Len(t, seen, 1)
	assert.Equal(t, 2, seen[0].N, "only the timer never cancelled fires")
}

func TestCancelAfterSlotReuseIsHarmless(t *testing.T) {
	w := newWorld(t, network.Link{})
	var seen []arrival
	var first TimerID
	w.AddNode("p", func() Node {
		return &probe{seen: &seen, onStart: func(env Env) {
			first = env.SetTimer(ms(1), tick{1})
		}, onTimer: func(env Env, tk tick) {
			if tk.N == 1 {
				env.SetTimer(ms(1), tick{2}) // likely reuses the fired timer's slot
				env.CancelTimer(first)
			}
		}}
	})
	require.NoError(t, w.Run())
	require.Len(t, seen, 2)
	assert.Equal(t, 2, seen[1].N)
}

func TestEventBudgetStopsALivelock(t *testing.T) {
	w, err := New(Config{Seed: 1, Duration: time.Hour, MaxEvents: 1000})
	require.NoError(t, err)
	var self NodeID
	self = w.AddNode("spin", func() Node {
		return &probe{seen: new([]arrival), onStart: func(env Env) { env.Send(self, ping{}) },
			onMsg: func(env Env, _ NodeID, _ ping) { env.Send(self, ping{}) }}
	})
	err = w.Run()
	require.ErrorIs(t, err, ErrEventBudget)
	assert.Contains(t, err.Error(), "seed 1")
}
