package sim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/network"
)

// Linux's flusher wakes every vm.dirty_writeback_centisecs and writes back
// pages dirty for longer than vm.dirty_expire_centisecs: a power loss takes
// only what was written in roughly the last expiry, not everything since
// boot.
func TestPowerLossKeepsWhatTheOSWroteBack(t *testing.T) {
	w, err := New(Config{Seed: 1, Duration: time.Minute, Network: network.Link{Latency: ms(1)}})
	require.NoError(t, err)
	id := w.AddNode("disk-owner", func() Node { return &probe{seen: new([]arrival)} })
	d := w.Disk(id)
	d.SetWriteback(Writeback{Expire: 30 * time.Second, Interval: 5 * time.Second})
	f := d.Open("log")
	for s := 1; s <= 40; s++ {
		w.At(clock.At(time.Duration(s)*time.Second), "append", func(*World) { f.Append(s) })
	}
	// The flusher last woke at 40 s and wrote back what was dirty since 10 s
	// or earlier: the records appended at 1 s to 10 s.
	w.At(clock.At(42*time.Second), "power loss", func(w *World) { w.PowerLoss(id) })
	require.NoError(t, w.Run())
	assert.Equal(t, 10, f.Len())
	assert.Equal(t, 10, f.Record(9))
}

// Without write-back (interval 0) a power loss keeps only what was synced.
func TestPowerLossWithoutWritebackKeepsOnlySynced(t *testing.T) {
	w, err := New(Config{Seed: 1, Duration: time.Minute, Network: network.Link{Latency: ms(1)}})
	require.NoError(t, err)
	id := w.AddNode("disk-owner", func() Node { return &probe{seen: new([]arrival)} })
	f := w.Disk(id).Open("log")
	for s := 1; s <= 40; s++ {
		w.At(clock.At(time.Duration(s)*time.Second), "append", func(*World) { f.Append(s) })
	}
	w.At(clock.At(42*time.Second), "power loss", func(w *World) { w.PowerLoss(id) })
	require.NoError(t, w.Run())
	assert.Zero(t, f.Len())
}
