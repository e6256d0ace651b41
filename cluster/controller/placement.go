package controller

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/tideline-sim/tideline/cluster/protocol"
)

// Replica placement at topic creation, as the KRaft controller does it:
// a port of Kafka's StripedReplicaPlacer (metadata/.../placement/), draw for
// draw, so that with the same random source it places exactly as Kafka —
// the test holds it to StripedReplicaPlacerTest's own expectations. Each
// partition's leader is the next unfenced broker of the next rack; its
// other replicas walk the racks round-robin, so replicas share a rack only
// when the replication factor exceeds the racks; after as many partitions
// as unfenced brokers the racks and brokers are shuffled. Without racks
// (every broker in the one no-rack rack) each partition is a window of
// consecutive broker ids. Rules: anchors/operations-and-clients.md §4.

// UsableBroker is a broker the placer may use (ClusterDescriber's
// UsableBroker): Rack "" is none.
type UsableBroker struct {
	ID     protocol.BrokerID
	Rack   string
	Fenced bool
}

// RandomSource is java.util.Random's next(bits): the placer's draws go
// through nextInt and shuffle exactly as Java's do.
type RandomSource interface {
	Next(bits int) int32
}

// JavaRandom is java.util.Random's linear congruential generator. Kafka's
// controller seeds its placer's Random from the clock; tideline seeds it
// from the run's seed.
type JavaRandom struct{ seed int64 }

const javaMultiplier, javaMask = 0x5DEECE66D, 1<<48 - 1

// NewJavaRandom is new Random(seed).
func NewJavaRandom(seed int64) *JavaRandom {
	return &JavaRandom{seed: (seed ^ javaMultiplier) & javaMask}
}

func (r *JavaRandom) Next(bits int) int32 {
	r.seed = (r.seed*javaMultiplier + 0xB) & javaMask
	return int32(r.seed >> (48 - bits))
}

// nextInt is Random.nextInt(bound), with its rejection loop.
func nextInt(r RandomSource, bound int) int {
	n := int32(bound)
	x := r.Next(31)
	if n&(n-1) == 0 {
		return int((int64(n) * int64(x)) >> 31)
	}
	for u := x; ; u = r.Next(31) {
		x = u % n
		if u-x+(n-1) >= 0 { // Java's overflow test: int arithmetic wraps
			return int(x)
		}
	}
}

// shuffle is Collections.shuffle(list, random).
func shuffle[T any](list []T, r RandomSource) {
	for i := len(list); i > 1; i-- {
		j := nextInt(r, i)
		list[i-1], list[j] = list[j], list[i-1]
	}
}

type brokerList struct {
	brokers              []protocol.BrokerID
	index, offset, epoch int
}

func (l *brokerList) initialize(r RandomSource) {
	if len(l.brokers) > 0 {
		slices.Sort(l.brokers)
		l.offset = nextInt(r, len(l.brokers))
	}
}

func (l *brokerList) next(epoch int) protocol.BrokerID {
	if len(l.brokers) == 0 {
		return -1
	}
	if l.epoch != epoch {
		l.epoch, l.index = epoch, 0
		l.offset = (l.offset + 1) % len(l.brokers)
	}
	if l.index >= len(l.brokers) {
		return -1
	}
	b := l.brokers[(l.index+l.offset)%len(l.brokers)]
	l.index++
	return b
}

type rack struct{ fenced, unfenced brokerList }

func (k *rack) next(epoch int) protocol.BrokerID {
	if b := k.unfenced.next(epoch); b >= 0 {
		return b
	}
	return k.fenced.next(epoch)
}

// rackList is StripedReplicaPlacer.RackList. racks is kept in the
// iteration order of Java's HashMap over the rack names, which fixes the
// order of the random draws.
type rackList struct {
	random          RandomSource
	byName          map[string]*rack
	hashOrder       []string // racks.values() order
	names           []string // sorted, no rack ("") first
	total, unfenced int
	epoch, offset   int
}

func newRackList(r RandomSource, brokers []UsableBroker) *rackList {
	l := &rackList{random: r, byName: map[string]*rack{}}
	var inserted []string
	for _, b := range brokers {
		k := l.byName[b.Rack]
		if k == nil {
			k = &rack{}
			l.byName[b.Rack] = k
			inserted = append(inserted, b.Rack)
		}
		if b.Fenced {
			k.fenced.brokers = append(k.fenced.brokers, b.ID)
		} else {
			l.unfenced++
			k.unfenced.brokers = append(k.unfenced.brokers, b.ID)
		}
		l.total++
	}
	l.hashOrder = javaHashMapOrder(inserted)
	for _, name := range l.hashOrder {
		l.byName[name].fenced.initialize(r)
		l.byName[name].unfenced.initialize(r)
	}
	l.names = slices.Clone(inserted)
	slices.Sort(l.names) // Optional.empty first: "" sorts first
	if len(l.names) > 0 {
		l.offset = nextInt(r, len(l.names))
	}
	return l
}

func (l *rackList) place(rf int) ([]protocol.BrokerID, error) {
	if err := placeable(rf, l.total, l.unfenced); err != nil {
		return nil, err
	}
	// After as many placements as unfenced brokers, shuffle to avoid
	// repeating them (never with one unfenced broker: it would loop).
	if l.epoch == l.unfenced && l.unfenced > 1 {
		l.shuffle()
		l.epoch = 0
	}
	if l.offset == len(l.names) {
		l.offset = 0
	}
	replicas := make([]protocol.BrokerID, 0, rf)
	first := l.offset
	for {
		if b := l.byName[l.names[first]].unfenced.next(l.epoch); b >= 0 {
			replicas = append(replicas, b)
			break
		}
		first = (first + 1) % len(l.names)
	}
	at := l.offset
	for len(replicas) < rf {
		b := protocol.BrokerID(-1)
		for b < 0 {
			if at == first {
				first = -1
			} else {
				b = l.byName[l.names[at]].next(l.epoch)
			}
			at = (at + 1) % len(l.names)
		}
		replicas = append(replicas, b)
	}
	l.epoch++
	l.offset++
	return replicas, nil
}

func (l *rackList) shuffle() {
	shuffle(l.names, l.random)
	for _, name := range l.hashOrder {
		shuffle(l.byName[name].fenced.brokers, l.random)
		shuffle(l.byName[name].unfenced.brokers, l.random)
	}
}

// placeable is the placer's hard rules, with Kafka's messages.
func placeable(rf, total, unfenced int) error {
	switch {
	case rf <= 0:
		return fmt.Errorf("Invalid replication factor %d: the replication factor must be positive.", rf)
	case rf > total:
		return fmt.Errorf("The target replication factor of %d cannot be reached because only %d broker(s) are registered.", rf, total)
	case unfenced == 0:
		return fmt.Errorf("All brokers are currently fenced.")
	}
	return nil
}

// Place is StripedReplicaPlacer.place: the replicas of partitions
// partitions of replication factor rf, leader first.
func Place(r RandomSource, brokers []UsableBroker, partitions, rf int) ([][]protocol.BrokerID, error) {
	l := newRackList(r, brokers)
	if err := placeable(rf, l.total, l.unfenced); err != nil {
		return nil, err
	}
	out := make([][]protocol.BrokerID, 0, partitions)
	for range partitions {
		replicas, err := l.place(rf)
		if err != nil {
			return nil, err
		}
		out = append(out, replicas)
	}
	return out, nil
}

// javaHashMapOrder is the order in which a java.util.HashMap holding the
// keys Optional.ofNullable(rack), inserted in the given order, iterates
// them: by bucket (the spread hash masked by the table size, which starts
// at 16 and doubles past three quarters full), then by insertion.
func javaHashMapOrder(keys []string) []string {
	capacity := 16
	for len(keys) > capacity*3/4 {
		capacity *= 2
	}
	bucket := func(k string) int {
		h := protocol.JavaStringHash(k) // Optional.empty().hashCode() is 0, as "".hashCode()
		return int((h ^ int32(uint32(h)>>16)) & int32(capacity-1))
	}
	out := slices.Clone(keys)
	slices.SortStableFunc(out, func(a, b string) int { return cmp.Compare(bucket(a), bucket(b)) })
	return out
}
