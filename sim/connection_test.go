package sim

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/network"
)

// connectionWorld has a client that pings a server every 10 ms and counts
// the resets it gets; fault hits the server at 25 ms, restart at 55 ms.
func connectionWorld(t *testing.T, fault func(w *World, id NodeID)) (resets []clock.Time, got []int) {
	t.Helper()
	w := newWorld(t, network.Link{Latency: ms(1)})
	var server NodeID
	var seen []arrival
	server = w.AddNode("server", func() Node { return &probe{seen: &seen} })
	w.AddNode("client", func() Node {
		n := 0
		return &probe{seen: new([]arrival),
			onStart: func(env Env) { env.SetTimer(ms(10), tick{}) },
			onTimer: func(env Env, _ tick) {
				n++
				env.Send(server, ping{n})
				env.SetTimer(ms(10), tick{})
			},
			onReset: func(env Env, r ConnectionReset) {
				assert.Equal(t, server, r.Peer)
				resets = append(resets, env.Now())
			}}
	})
	w.At(clock.At(ms(25)), "fault", func(w *World) { fault(w, server) })
	w.At(clock.At(ms(55)), "restart", func(w *World) { w.Restart(server) })
	require.NoError(t, w.Run())
	for _, a := range seen {
		got = append(got, a.N)
	}
	return resets, got
}

// A crashed process's host refuses what reaches it, and a restarted process
// refuses what was sent on the connection to its previous incarnation: the
// sender hears a reset, as a TCP client does, and its next message opens a
// connection to the new process.
func TestCrashedProcessResetsConnections(t *testing.T) {
	resets, got := connectionWorld(t, func(w *World, id NodeID) { w.Crash(id) })
	// Pings 3, 4 and 5 reach the dead process (30, 40, 50 ms) and are reset;
	// the reset at 51 ms closes the connection, so ping 6 (60 ms) opens a
	// new one to the restarted server.
	assert.Equal(t, []clock.Time{clock.At(ms(32)), clock.At(ms(42)), clock.At(ms(52))}, resets)
	assert.Equal(t, []int{1, 2}, got[:2])
	assert.Equal(t, 6, got[2], "the first message on a new connection reaches the new process")
}

// A host without power answers nothing: the sender is not told until the
// host is back and its new process refuses the old connection.
func TestPowerLossResetsNothingUntilTheHostIsBack(t *testing.T) {
	resets, got := connectionWorld(t, func(w *World, id NodeID) { w.PowerLoss(id) })
	require.NotEmpty(t, resets)
	assert.Equal(t, clock.At(ms(62)), resets[0], "ping 6 (60 ms) is the first to reach a powered host")
	assert.Equal(t, []int{1, 2}, got[:2])
	assert.Equal(t, 7, got[2], "pings 3-5 vanished, ping 6 was refused, ping 7 opened a new connection")
}
