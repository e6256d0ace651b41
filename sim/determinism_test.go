package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/network"
)

// gossip is a randomised node: on each tick it sends a few messages to
// random peers, persists a counter, sometimes syncs, and re-arms or cancels
// timers at random. Everything random comes from env.Rand.
type gossip struct {
	peers []NodeID
	count int
	timer TimerID
	// leak, when set, is consulted after leakAfter: a stand-in for a
	// nondeterminism bug such as a map iteration or a wall-clock read.
	leak      *int
	leakAfter clock.Time
}

func (g *gossip) Start(env Env) {
	g.count = env.Disk().Open("count").Len()
	g.timer = env.SetTimer(time.Duration(env.Rand().IntN(10)+1)*time.Millisecond, tick{})
}

func (g *gossip) Receive(env Env, from NodeID, msg Message) {
	g.count++
	f := env.Disk().Open("count")
	f.Append(g.count)
	if env.Rand().IntN(4) == 0 {
		f.Sync()
	}
	if env.Rand().IntN(3) == 0 {
		env.Send(from, ping{g.count})
	}
}

func (g *gossip) Timer(env Env, _ Timer) {
	r := env.Rand()
	fanout := r.IntN(3) + 1
	if g.leak != nil && env.Now() >= g.leakAfter {
		*g.leak++
		fanout = 1 + *g.leak%3
	}
	for range fanout {
		env.Send(g.peers[r.IntN(len(g.peers))], ping{g.count})
	}
	next := env.SetTimer(time.Duration(r.IntN(20)+1)*time.Millisecond, tick{g.count})
	if r.IntN(5) == 0 {
		env.CancelTimer(next)
		next = env.SetTimer(time.Duration(r.IntN(7)+1)*time.Millisecond, tick{-g.count})
	}
	g.timer = next
}

// randomWorld builds a world of gossiping nodes with random faults drawn
// from the world's fault stream.
func randomWorld(t *testing.T, seed Seed, leak *int) *World {
	t.Helper()
	w, err := New(Config{Seed: seed, Duration: 5 * time.Second, Network: network.Link{
		Latency: ms(2), Jitter: ms(3), Shape: network.LogNormal, Loss: 0.02, Duplicate: 0.01,
	}})
	require.NoError(t, err)
	const nodes = 9
	ids := make([]NodeID, nodes)
	for i := range nodes {
		ids[i] = NodeID(i)
	}
	for i := range nodes {
		name := string(rune('a' + i))
		w.AddNode(name, func() Node {
			g := &gossip{peers: ids}
			if i == 4 {
				g.leak, g.leakAfter = leak, clock.At(2*time.Second)
			}
			return g
		})
	}
	faults := w.Stream("faults")
	for at := 100 * time.Millisecond; at < 5*time.Second; at += time.Duration(faults.IntN(200)+50) * time.Millisecond {
		target := ids[faults.IntN(nodes)]
		other := ids[faults.IntN(nodes)]
		var label string
		var f func(*World)
		switch faults.IntN(7) {
		case 0:
			label, f = "crash", func(w *World) { w.Crash(target) }
		case 1:
			label, f = "power-loss", func(w *World) { w.PowerLoss(target) }
		case 2:
			label, f = "restart", func(w *World) { w.Restart(target) }
		case 3:
			label, f = "pause", func(w *World) { w.Pause(target) }
		case 4:
			label, f = "resume", func(w *World) { w.Resume(target) }
		case 5:
			label, f = "block", func(w *World) { w.Network().Block(target, other) }
		case 6:
			label, f = "heal", func(w *World) { w.Network().Heal() }
		}
		w.At(clock.At(at), label+" "+w.Name(target), f)
	}
	return w
}

func TestSameSeedSameTrace(t *testing.T) {
	run := func(seed Seed) (uint64, int64) {
		w := randomWorld(t, seed, nil)
		require.NoError(t, w.Run())
		return w.TraceHash(), w.Events()
	}
	h1, n1 := run(42)
	h2, n2 := run(42)
	h3, _ := run(43)
	assert.Greater(t, n1, int64(5_000), "the world should be busy")
	assert.Equal(t, n1, n2)
	assert.Equal(t, h1, h2, "same seed, same trace")
	assert.NotEqual(t, h1, h3, "another seed, another trace")
}

func TestReplayOfAFaithfulRunPasses(t *testing.T) {
	var rec bytes.Buffer
	w := randomWorld(t, 7, nil)
	require.NoError(t, w.TraceTo(&rec, "random-world", ""))
	require.NoError(t, w.Run())

	head, entries, err := ReadTrace(&rec)
	require.NoError(t, err)
	assert.Equal(t, Seed(7), head.Seed)
	assert.Equal(t, "random-world", head.Run)
	require.Len(t, entries, int(w.Events()))

	again := randomWorld(t, 7, nil)
	again.Replay(entries)
	require.NoError(t, again.Run())
	assert.Equal(t, w.TraceHash(), again.TraceHash())
}

// A streamed trace, written as TraceTo writes it, is TraceTo's bytes: the
// header, every entry (log lines and footer too) in order.
func TestStreamedTraceIsTheWrittenTrace(t *testing.T) {
	var written, streamed bytes.Buffer
	w := randomWorld(t, 9, nil)
	require.NoError(t, w.TraceTo(&written, "random-world", "input"))
	require.NoError(t, w.Run())

	again := randomWorld(t, 9, nil)
	require.NoError(t, WriteTraceHeader(&streamed, again.Header("random-world", "input")))
	again.StreamTrace(func(e TraceEntry) { streamed.Write(e.AppendJSON(nil)) })
	require.NoError(t, again.Run())
	assert.Greater(t, again.Events(), int64(1000))
	assert.Equal(t, written.String(), streamed.String())
}

func TestReplayNamesFirstDivergentEvent(t *testing.T) {
	// Record a run in which the leak stays constant...
	var rec bytes.Buffer
	leak := 0
	w := randomWorld(t, 7, &leak)
	require.NoError(t, w.TraceTo(&rec, "random-world", ""))
	require.NoError(t, w.Run())
	_, recorded, err := ReadTrace(&rec)
	require.NoError(t, err)

	// ...then replay it with the leak started elsewhere, as a global
	// counter carried over from a previous run would be.
	var rep bytes.Buffer
	leak = 1
	again := randomWorld(t, 7, &leak)
	require.NoError(t, again.TraceTo(&rep, "random-world", ""))
	again.Replay(recorded)
	err = again.Run()
	var div *DivergenceError
	require.True(t, errors.As(err, &div), "replay must fail, got %v", err)
	require.NotNil(t, div.Want)
	require.NotNil(t, div.Got)

	// The named event is the first whose hash differs, and it happens after
	// the leak kicks in, on or caused by the leaky node.
	_, replayed, err := ReadTrace(&rep)
	require.NoError(t, err)
	first := 0
	for first < len(replayed) && replayed[first].Hash == recorded[first].Hash {
		first++
	}
	assert.Equal(t, int64(first+1), div.Index)
	assert.Equal(t, recorded[first], *div.Want)
	assert.Equal(t, replayed[first], *div.Got)
	assert.GreaterOrEqual(t, div.Got.T, clock.At(2*time.Second))
	assert.Contains(t, div.Error(), "replay diverged at event")
}

func TestReplayDetectsEarlyEnd(t *testing.T) {
	var rec bytes.Buffer
	w := randomWorld(t, 3, nil)
	require.NoError(t, w.TraceTo(&rec, "", ""))
	require.NoError(t, w.Run())
	_, entries, err := ReadTrace(&rec)
	require.NoError(t, err)

	extra := append(entries, TraceEntry{I: int64(len(entries) + 1), Kind: "deliver", Hash: 1})
	again := randomWorld(t, 3, nil)
	again.Replay(extra)
	err = again.Run()
	var div *DivergenceError
	require.ErrorAs(t, err, &div)
	assert.Nil(t, div.Got)
	assert.Equal(t, int64(len(entries)+1), div.Index)
}

// A trace line is written by hand for speed: it must be what encoding/json
// writes, byte for byte, whatever the strings hold.
func TestTraceLineIsWhatEncodingJSONWrites(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	alphabet := []string{"a", "Z", " ", "#", "\"", "\\", "<", ">", "&", "\n", "\t", "\x01", "\b", "\f", "é", "\u2028", "\xff", "fetch-response", "=", "9"}
	text := func() string {
		var s string
		for range rng.IntN(12) {
			s += alphabet[rng.IntN(len(alphabet))]
		}
		return s
	}
	for range 2000 {
		e := TraceEntry{I: rng.Int64N(3) * rng.Int64(), T: clock.Time(rng.Int64N(1e12)), Kind: text(), Node: text(), From: text(), What: text(),
			Sent: clock.Time(rng.Int64N(2) * rng.Int64N(1e12)), Hash: Hash(rng.Uint64N(2) * rng.Uint64()), End: rng.IntN(2) == 0, Events: rng.Int64N(2) * rng.Int64N(1e6)}
		var want bytes.Buffer
		require.NoError(t, json.NewEncoder(&want).Encode(e))
		require.Equal(t, want.String(), string(e.AppendJSON(nil)))
	}
}

func TestTraceHashIsSixteenHexDigits(t *testing.T) {
	for _, h := range []Hash{1, 0xabc, 1<<64 - 1} {
		text, err := h.MarshalText()
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprintf("%016x", uint64(h)), string(text))
		var back Hash
		require.NoError(t, back.UnmarshalText(text))
		assert.Equal(t, h, back)
	}
	for _, bad := range []string{"", "0", "abc", "0123456789abcdeg", "0123456789abcdef0", "+123456789abcdef"} {
		var h Hash
		assert.Error(t, h.UnmarshalText([]byte(bad)), "%q", bad)
	}
}

func TestHex16(t *testing.T) {
	for _, h := range []uint64{0, 1, 0xabc, 1<<64 - 1, 0x0123456789abcdef} {
		assert.Equal(t, fmt.Sprintf("%016x", h), Hex16(h))
	}
}
