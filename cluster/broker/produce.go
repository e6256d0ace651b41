package broker

import (
	"fmt"
	"slices"
	"time"

	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/internal/planted"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/node"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/sim"
)

// delayedProduce is an acks=all produce request waiting for the high
// watermark of each partition it wrote (Kafka's DelayedProduce): answered
// when every partition is settled, or at its timeout.
type delayedProduce struct {
	id        uint64
	session   *produceSession
	from      sim.NodeID
	requestID uint64
	results   []protocol.ProducePartitionResponse
	waiting   []waitingPartition
	on        []*replica // the replicas whose purgatory holds it
	timer     sim.TimerID
}

// waitingPartition is one partition of a delayed produce, until its high
// watermark passes lastOffset.
type waitingPartition struct {
	r                      *replica
	result                 int // index into results
	baseOffset, lastOffset int64
}

// produceSession is one client connection's produce requests: a request
// re-sent (node.Call's retransmission, standing in for TCP's) is answered
// from the response already given, or ignored while it waits, rather than
// appended twice — TCP never delivers a request twice. Several requests
// may be in flight at once (max.in.flight.requests.per.connection).
type produceSession struct {
	connection uint64
	recent     [produceRing]produceEntry
}

// produceEntry is a request the session remembers, in the slot of its ID.
type produceEntry struct {
	id       uint64
	response protocol.ProduceResponse // once answered
	answered bool
}

// produceRing is how many requests a session remembers: far more than a
// client keeps in flight.
const produceRing = 256

// entry returns the remembered request id, nil if it is forgotten.
func (s *produceSession) entry(id uint64) *produceEntry {
	if e := &s.recent[id%produceRing]; e.id == id {
		return e
	}
	return nil
}

func (b *Broker) handleProduce(from sim.NodeID, m protocol.ProduceRequest) {
	if b.monitor != nil {
		b.monitor.ProduceReceived(b.env.Now(), b.id, from, &m)
	}
	s := b.sessions[from]
	if s == nil || s.connection != m.Connection {
		if s == nil {
			s = &produceSession{}
			b.sessions[from] = s
		}
		*s = produceSession{connection: m.Connection}
	}
	// A request's slot holds it once seen. A re-sent one is answered again
	// if it was answered, else ignored; one whose slot a newer request
	// took was seen long ago and is ignored. A request newer than its slot
	// is new — even behind newer ones, when the network lost its first
	// copy and a retransmission brought it.
	switch slot := &s.recent[m.RequestID%produceRing]; {
	case slot.id == m.RequestID:
		if slot.answered && m.Acks != 0 {
			b.env.Send(from, b.NewProduceResponse(slot.response))
		}
		return
	case slot.id > m.RequestID:
		return
	default:
		*slot = produceEntry{id: m.RequestID}
	}

	results := b.produceResults.Slice(len(m.Partitions))
	d := b.newDelayed()
	failed := false
	for i, part := range m.Partitions {
		results[i] = protocol.ProducePartitionResponse{TP: part.TP, BaseOffset: -1}
		base, last, err := b.producePartition(m, part)
		if err != protocol.None {
			results[i].Err, failed = err, true
			continue
		}
		results[i].BaseOffset = base
		if m.Acks != config.AcksAll {
			continue
		}
		r := b.hosted(part.TP)
		if r.log.HW > last {
			b.ackAll(r, base, last)
			continue
		}
		d.waiting = append(d.waiting, waitingPartition{r: r, result: i, baseOffset: base, lastOffset: last})
	}
	switch {
	case m.Acks == 0:
		if failed {
			// Kafka never answers acks=0; on an error it closes the
			// connection, and the client refreshes its metadata.
			b.env.Send(from, protocol.ConnectionClosed{})
		}
	case len(d.waiting) == 0:
		b.respondProduce(s, from, protocol.ProduceResponse{RequestID: m.RequestID, Partitions: results})
	default:
		d.id, d.session, d.from, d.requestID, d.results = b.newID(), s, from, m.RequestID, results
		d.timer = b.SetTimer(b.env, time.Duration(m.Timeout)*time.Millisecond, node.Timer{Kind: node.TProduceExpire, ID: d.id})
		b.delayed = append(b.delayed, d)
		for _, w := range d.waiting {
			if !slices.Contains(d.on, w.r) {
				w.r.purgatory = append(w.r.purgatory, d)
				d.on = append(d.on, w.r)
			}
		}
		return
	}
	b.freeDelayed = append(b.freeDelayed, d)
}

// newDelayed returns a delayed produce to fill, one answered before if
// any: an acks=all request waits in one nearly every time.
func (b *Broker) newDelayed() *delayedProduce {
	if n := len(b.freeDelayed); n > 0 {
		d := b.freeDelayed[n-1]
		b.freeDelayed = b.freeDelayed[:n-1]
		*d = delayedProduce{waiting: d.waiting[:0], on: d.on[:0]}
		return d
	}
	return &delayedProduce{}
}

// producePartition validates and appends one partition's batch, as
// ReplicaManager.appendToLocalLog does; it returns where the batch is (an
// idempotent duplicate's original offsets) or why it was refused.
func (b *Broker) producePartition(m protocol.ProduceRequest, part protocol.ProducePartition) (base, last int64, _ protocol.ErrorCode) {
	r := b.hosted(part.TP)
	switch {
	case r == nil:
		return -1, -1, protocol.UnknownTopicOrPartition
	case r.role != roleLeader:
		return -1, -1, protocol.NotLeaderOrFollower
	case m.Acks == config.AcksAll && len(r.state.ISR) < r.minISR && !planted.Bugs.IgnoreMinISR:
		b.event(journal.Event{Kind: journal.EvNotEnoughReplicas, TP: r.tp, Epoch: r.state.LeaderEpoch, Broker: b.id,
			Detail: fmt.Sprintf("isr %v below min.insync.replicas=%d", r.state.ISR, r.minISR)})
		return -1, -1, protocol.NotEnoughReplicas
	}
	base, err := r.log.CheckSequence(m.ProducerID, m.ProducerEpoch, part.BaseSequence, len(part.Payloads))
	switch {
	case err != protocol.None:
		b.event(journal.Event{Kind: journal.EvOutOfOrder, TP: r.tp, Broker: b.id,
			Detail: fmt.Sprintf("producer %d sequence %d rejected", m.ProducerID, part.BaseSequence)})
		return -1, -1, err
	case base >= 0:
		b.event(journal.Event{Kind: journal.EvDuplicateBatch, TP: r.tp, Offset: base, Broker: b.id,
			Detail: fmt.Sprintf("producer %d sequence %d already at offset %d", m.ProducerID, part.BaseSequence, base)})
	default:
		base = b.appendAsLeader(r, m, part)
	}
	b.maybeIncrementHW(r)
	return base, base + int64(len(part.Payloads)) - 1, protocol.None
}

func (b *Broker) appendAsLeader(r *replica, m protocol.ProduceRequest, part protocol.ProducePartition) int64 {
	base := r.log.LEO()
	seq := int32(-1)
	if m.ProducerID >= 0 {
		seq = part.BaseSequence
	}
	// The request's payloads become the batch: the producer never changes
	// a batch it sent.
	batch := b.batches.One()
	*batch = protocol.Batch{BaseOffset: base, ProducerID: m.ProducerID, Payloads: part.Payloads, BaseSequence: seq,
		Epoch: r.state.LeaderEpoch, ProducerEpoch: m.ProducerEpoch}
	r.log.Append(batch)
	if r.log.Unflushed >= r.flushMessages {
		r.log.Flush()
	}
	b.wakeParked(r)
	return base
}

// completeDelayedProduces settles the partitions of delayed produces on r
// that the high watermark has passed — with NOT_ENOUGH_REPLICAS_AFTER_APPEND
// if the ISR shrank below the minimum meanwhile, though the records are
// committed all the same — and answers each request once all its
// partitions are settled.
func (b *Broker) completeDelayedProduces(r *replica) {
	for j := 0; j < len(r.purgatory); {
		d := r.purgatory[j]
		for i := 0; i < len(d.waiting); i++ {
			w := d.waiting[i]
			if w.r != r || r.log.HW <= w.lastOffset {
				continue
			}
			if len(r.maximalISR()) < r.minISR && !planted.Bugs.IgnoreMinISR {
				d.results[w.result].Err, d.results[w.result].BaseOffset = protocol.NotEnoughReplicasAfterAppend, -1
				b.event(journal.Event{Kind: journal.EvNotEnoughReplicasAfterAppend, TP: r.tp, Epoch: r.state.LeaderEpoch, Offset: w.baseOffset, Broker: b.id,
					Detail: fmt.Sprintf("offsets %d-%d committed with isr %v below min.insync.replicas=%d: NOT_ENOUGH_REPLICAS_AFTER_APPEND", w.baseOffset, w.lastOffset, r.maximalISR(), r.minISR)})
			} else {
				b.ackAll(r, w.baseOffset, w.lastOffset)
			}
			d.waiting = slices.Delete(d.waiting, i, i+1)
			i--
		}
		if len(d.waiting) == 0 {
			b.maybeAnswerDelayed(d) // takes it out of r.purgatory: j is the next one
			continue
		}
		j++
	}
}

// settleWaiting ends every wait of a delayed produce on r with err (r is
// no longer leader, or the request timed out), and answers it if that was
// the last.
func (b *Broker) settleWaiting(d *delayedProduce, r *replica, err protocol.ErrorCode) {
	d.waiting = slices.DeleteFunc(d.waiting, func(w waitingPartition) bool {
		if r != nil && w.r != r {
			return false
		}
		d.results[w.result].Err, d.results[w.result].BaseOffset = err, -1
		return true
	})
	b.maybeAnswerDelayed(d)
}

// maybeAnswerDelayed answers a delayed produce whose partitions are all
// settled, and forgets it.
func (b *Broker) maybeAnswerDelayed(d *delayedProduce) {
	if len(d.waiting) > 0 {
		return
	}
	b.env.CancelTimer(d.timer)
	for _, r := range d.on {
		r.purgatory = slices.DeleteFunc(r.purgatory, func(x *delayedProduce) bool { return x == d })
	}
	b.delayed = slices.DeleteFunc(b.delayed, func(x *delayedProduce) bool { return x == d })
	b.respondProduce(d.session, d.from, protocol.ProduceResponse{RequestID: d.requestID, Partitions: d.results})
	b.freeDelayed = append(b.freeDelayed, d)
}

// expireDelayedProduce answers a delayed produce at its timeout: the
// partitions not yet settled get REQUEST_TIMED_OUT.
func (b *Broker) expireDelayedProduce(id uint64) {
	if i := slices.IndexFunc(b.delayed, func(d *delayedProduce) bool { return d.id == id }); i >= 0 {
		b.settleWaiting(b.delayed[i], nil, protocol.RequestTimedOut)
	}
}

// respondProduce answers a produce request of session s, which keeps the
// answer for a re-sent request.
func (b *Broker) respondProduce(s *produceSession, to sim.NodeID, resp protocol.ProduceResponse) {
	if e := s.entry(resp.RequestID); e != nil {
		e.response, e.answered = resp, true
	}
	b.env.Send(to, b.NewProduceResponse(resp))
}

// ---- inspection, for tests and checkers after a run ----
