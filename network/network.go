// Package network models the links between simulated nodes: how long a
// message takes, whether it is lost or duplicated, and which directions a
// partition blocks. It never looks inside a message; it only decides when,
// and how many times, a message from one node reaches another.
package network

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// NodeID names a node of the simulated world. IDs are small and dense, handed
// out in the order nodes are added.
type NodeID int32

// Shape is the distribution of the jitter added to a link's base latency.
type Shape uint8

const (
	// Uniform jitter: extra delay drawn evenly from [0, Jitter).
	Uniform Shape = iota
	// LogNormal jitter: median Jitter, sigma 1; a moderate tail.
	LogNormal
	// Pareto jitter: mean Jitter, alpha 2; a heavy tail of rare long stalls.
	Pareto
)

// maxJitterFactor caps long-tail draws: a single message is never delayed by
// more than this many times the configured jitter, so a run stays bounded.
const maxJitterFactor = 100

func (s Shape) String() string {
	switch s {
	case Uniform:
		return "uniform"
	case LogNormal:
		return "lognormal"
	case Pareto:
		return "pareto"
	}
	return fmt.Sprintf("Shape(%d)", uint8(s))
}

// ParseShape reads the name of a jitter shape.
func ParseShape(name string) (Shape, error) {
	for _, s := range []Shape{Uniform, LogNormal, Pareto} {
		if s.String() == name {
			return s, nil
		}
	}
	return 0, fmt.Errorf("unknown jitter shape %q (want uniform, lognormal or pareto)", name)
}

// Link describes one direction of the path between two nodes.
type Link struct {
	Latency   time.Duration // base one-way delay
	Jitter    time.Duration // scale of the extra random delay; reordering falls out of it
	Shape     Shape         // distribution of the jitter
	Loss      float64       // probability that a message is dropped
	Duplicate float64       // probability that a message is delivered twice
}

// Validate reports a link that cannot be simulated.
func (l Link) Validate() error {
	switch {
	case l.Latency < 0:
		return fmt.Errorf("latency %v is negative", l.Latency)
	case l.Jitter < 0:
		return fmt.Errorf("jitter %v is negative", l.Jitter)
	case !(l.Loss >= 0 && l.Loss <= 1):
		return fmt.Errorf("loss %v is not a probability in [0, 1]", l.Loss)
	case !(l.Duplicate >= 0 && l.Duplicate <= 1):
		return fmt.Errorf("duplicate %v is not a probability in [0, 1]", l.Duplicate)
	case l.Shape > Pareto:
		return fmt.Errorf("unknown jitter shape %d", l.Shape)
	}
	return nil
}

// pair is one direction between two nodes.
type pair struct{ from, to NodeID }

// Network decides the fate of every message. Each directed link draws from
// its own random stream, derived from the network's seed and the two node
// IDs, so traffic on one link never shifts the coin flips of another.
type Network struct {
	seed     uint64
	defaults Link
	nodes    []NodeID // sorted; for isolate

	overrides map[pair]Link
	extra     map[pair]time.Duration // slow-link delay added on top
	blocked   map[pair]struct{}
	streams   []*rand.Rand // dense [from*stride+to], created on first use
	stride    int
}

// New returns a network in which every link behaves like defaults.
func New(seed uint64, defaults Link) (*Network, error) {
	if err := defaults.Validate(); err != nil {
		return nil, err
	}
	return &Network{
		seed:      seed,
		defaults:  defaults,
		overrides: map[pair]Link{},
		extra:     map[pair]time.Duration{},
		blocked:   map[pair]struct{}{},
	}, nil
}

// AddNode makes id known to the network, for Isolate.
func (n *Network) AddNode(id NodeID) {
	if i, found := slices.BinarySearch(n.nodes, id); !found {
		n.nodes = slices.Insert(n.nodes, i, id)
	}
}

// Defaults returns the link used where no override is set.
func (n *Network) Defaults() Link { return n.defaults }

// SetDefaults replaces the link used where no override is set.
func (n *Network) SetDefaults(l Link) error {
	if err := l.Validate(); err != nil {
		return err
	}
	n.defaults = l
	return nil
}

// SetLink overrides the link from one node to another (one direction).
func (n *Network) SetLink(from, to NodeID, l Link) error {
	if err := l.Validate(); err != nil {
		return err
	}
	n.overrides[pair{from, to}] = l
	return nil
}

// ResetLink removes an override, so the link follows the defaults again.
func (n *Network) ResetLink(from, to NodeID) { delete(n.overrides, pair{from, to}) }

// LinkFrom returns the link in force from one node to another.
func (n *Network) LinkFrom(from, to NodeID) Link {
	if l, ok := n.overrides[pair{from, to}]; ok {
		return l
	}
	return n.defaults
}

// SlowLink adds delay to every message from one node to another (one
// direction); zero removes it.
func (n *Network) SlowLink(from, to NodeID, delay time.Duration) {
	if delay <= 0 {
		delete(n.extra, pair{from, to})
		return
	}
	n.extra[pair{from, to}] = delay
}

// Block stops every message from one node to another; the reverse direction
// is untouched, which is how one-way partitions are made.
func (n *Network) Block(from, to NodeID) {
	if from != to {
		n.blocked[pair{from, to}] = struct{}{}
	}
}

// Unblock lets messages from one node to another flow again.
func (n *Network) Unblock(from, to NodeID) { delete(n.blocked, pair{from, to}) }

// Blocked reports whether messages from one node to another are cut.
func (n *Network) Blocked(from, to NodeID) bool {
	_, cut := n.blocked[pair{from, to}]
	return cut
}

// Partition cuts every link, both ways, between nodes of different groups.
// Nodes in no group keep all their links.
func (n *Network) Partition(groups ...[]NodeID) {
	for gi, g := range groups {
		for gj, h := range groups {
			if gi == gj {
				continue
			}
			for _, a := range g {
				for _, b := range h {
					n.Block(a, b)
				}
			}
		}
	}
}

// Isolate cuts every link to and from node.
func (n *Network) Isolate(node NodeID) {
	for _, other := range n.nodes {
		n.Block(node, other)
		n.Block(other, node)
	}
}

// Heal removes every block and every slow link; link overrides stay.
func (n *Network) Heal() {
	clear(n.blocked)
	clear(n.extra)
}

// Route decides what becomes of one message: it returns the delays after
// which copies arrive (none when lost or blocked, two when duplicated).
// The result is a fixed array so that routing never allocates.
func (n *Network) Route(from, to NodeID) (delays [2]time.Duration, copies int) {
	if _, cut := n.blocked[pair{from, to}]; cut {
		return delays, 0
	}
	l := n.defaults
	if len(n.overrides) > 0 {
		l = n.LinkFrom(from, to)
	}
	var extra time.Duration
	if len(n.extra) > 0 {
		extra = n.extra[pair{from, to}]
	}
	r := n.stream(from, to)
	// Draw loss and duplication on every message, even at probability zero,
	// so that a stream's later draws do not depend on which knobs are set.
	lost := r.Float64() < l.Loss
	dup := r.Float64() < l.Duplicate
	if lost {
		return delays, 0
	}
	delays[0] = l.Latency + extra + jitter(r, l)
	copies = 1
	if dup {
		delays[1] = l.Latency + extra + jitter(r, l)
		copies = 2
	}
	return delays, copies
}

func jitter(r *rand.Rand, l Link) time.Duration {
	if l.Jitter <= 0 {
		return 0
	}
	j := float64(l.Jitter)
	var x float64
	switch l.Shape {
	case Uniform:
		return time.Duration(r.Int64N(int64(l.Jitter)))
	case LogNormal:
		x = j * math.Exp(r.NormFloat64())
	case Pareto:
		// Inverse transform of Pareto(xm=1, alpha=2), shifted to start at
		// zero: mean 1/(alpha-1) = 1, so the mean extra delay is Jitter.
		x = j * (1/math.Sqrt(1-r.Float64()) - 1)
	}
	return time.Duration(min(x, j*maxJitterFactor))
}

// stream returns the random stream of the directed link from→to.
func (n *Network) stream(from, to NodeID) *rand.Rand {
	need := int(max(from, to)) + 1
	if need > n.stride {
		n.grow(need)
	}
	i := int(from)*n.stride + int(to)
	if n.streams[i] == nil {
		n.streams[i] = rand.New(rand.NewPCG(n.seed, linkStream(from, to)))
	}
	return n.streams[i]
}

// grow re-lays the dense stream table for more nodes, keeping every stream.
func (n *Network) grow(need int) {
	stride := max(need, 2*n.stride)
	streams := make([]*rand.Rand, stride*stride)
	for from := range n.stride {
		copy(streams[from*stride:], n.streams[from*n.stride:(from+1)*n.stride])
	}
	n.streams, n.stride = streams, stride
}

// linkStream names a link's stream: a splitmix64 mix of the two IDs, so that
// neighbouring links get unrelated streams.
func linkStream(from, to NodeID) uint64 {
	z := uint64(uint32(from))<<32 | uint64(uint32(to))
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
