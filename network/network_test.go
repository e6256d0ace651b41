package network

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLinkValidate(t *testing.T) {
	bad := []Link{
		{Latency: -time.Millisecond},
		{Jitter: -1},
		{Loss: 1.5},
		{Duplicate: -0.1},
		{Shape: 9},
	}
	for _, l := range bad {
		assert.Error(t, l.Validate(), "%+v", l)
	}
	assert.NoError(t, Link{Latency: time.Millisecond, Loss: 1, Duplicate: 0}.Validate())
}

func TestParseShape(t *testing.T) {
	for _, s := range []Shape{Uniform, LogNormal, Pareto} {
		got, err := ParseShape(s.String())
		require.NoError(t, err)
		assert.Equal(t, s, got)
	}
	_, err := ParseShape("gaussian")
	assert.ErrorContains(t, err, "uniform, lognormal or pareto")
}

func TestLinksHaveIndependentStreams(t *testing.T) {
	// Traffic on one link must not shift the draws of another: route on
	// a->b with and without heavy traffic on c->d in between.
	route := func(noise bool) []time.Duration {
		n, err := New(7, Link{Latency: time.Millisecond, Jitter: time.Millisecond})
		require.NoError(t, err)
		var got []time.Duration
		for range 100 {
			if noise {
				n.Route(2, 3)
			}
			d, c := n.Route(0, 1)
			require.Equal(t, 1, c)
			got = append(got, d[0])
		}
		return got
	}
	assert.Equal(t, route(false), route(true))
}

func TestOverridesAndSlowLinks(t *testing.T) {
	n, err := New(1, Link{Latency: time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, n.SetLink(0, 1, Link{Latency: 50 * time.Millisecond}))
	d, _ := n.Route(0, 1)
	assert.Equal(t, 50*time.Millisecond, d[0])
	d, _ = n.Route(1, 0)
	assert.Equal(t, time.Millisecond, d[0], "override is one direction")
	n.SlowLink(1, 0, 200*time.Millisecond)
	d, _ = n.Route(1, 0)
	assert.Equal(t, 201*time.Millisecond, d[0])
	n.Heal()
	d, _ = n.Route(1, 0)
	assert.Equal(t, time.Millisecond, d[0], "heal removes slow links")
	n.ResetLink(0, 1)
	d, _ = n.Route(0, 1)
	assert.Equal(t, time.Millisecond, d[0])
	assert.Error(t, n.SetLink(0, 1, Link{Loss: 2}))
}

func TestStreamTableGrowsKeepingStreams(t *testing.T) {
	a, _ := New(3, Link{Jitter: time.Second})
	b, _ := New(3, Link{Jitter: time.Second})
	first, _ := a.Route(0, 1)
	a.Route(40, 41) // grows the table
	second, _ := a.Route(0, 1)
	b1, _ := b.Route(0, 1)
	b2, _ := b.Route(0, 1)
	assert.Equal(t, []time.Duration{b1[0], b2[0]}, []time.Duration{first[0], second[0]})
}
