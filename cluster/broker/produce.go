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
	conn      uint64 // the session's connection when it was taken
	from      sim.NodeID
	requestID uint64
	ordinal   uint64
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
// may be in flight at once (max.in.flight.requests.per.connection), but
// the broker takes them one at a time: Kafka's SocketServer mutes a
// connection once it reads a request and unmutes it when the response is
// sent, so an acks=all request waits for the one before it to replicate.
type produceSession struct {
	connection uint64
	next       uint64 // the ordinal of the next request to take
	busy       bool   // a request taken and not yet answered: the connection is muted
	recent     [produceRing]produceEntry
	held       []protocol.ProduceRequest // arrived ahead of their turn
}

// produceEntry is a request the session remembers, in the slot of its
// ordinal.
type produceEntry struct {
	ordinal  uint64
	id       uint64
	response protocol.ProduceResponse // once answered
	answered bool
}

// produceRing is how many requests a session remembers: far more than a
// client keeps in flight.
const produceRing = 256

// entry returns the remembered request of an ordinal, nil if forgotten.
func (s *produceSession) entry(ordinal uint64) *produceEntry {
	if e := &s.recent[ordinal%produceRing]; e.ordinal == ordinal {
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
		*s = produceSession{connection: m.Connection, next: 1, held: s.held[:0]}
	}
	switch {
	case m.Ordinal < s.next:
		// Taken before: a re-sent request is answered again if it was.
		if e := s.entry(m.Ordinal); e != nil && e.answered && m.Acks != 0 {
			b.env.Send(from, b.NewProduceResponse(e.response))
		}
		return
	case m.Ordinal > s.next || s.busy:
		// One before it was lost, as TCP holds it, or is still being
		// answered on the muted connection: it waits its turn.
		if !slices.ContainsFunc(s.held, func(h protocol.ProduceRequest) bool { return h.Ordinal == m.Ordinal }) {
			s.held = append(s.held, m)
		}
		return
	}
	b.takeProduce(from, s, m)
	b.takeHeld(from, s)
}

// resumeSessions takes the waiting requests of connections unmuted
// during an event.
func (b *Broker) resumeSessions() {
	for i := 0; i < len(b.unmuted); i++ { // taking a request may unmute more
		if s := b.sessions[b.unmuted[i]]; s != nil {
			b.takeHeld(b.unmuted[i], s)
		}
	}
	b.unmuted = b.unmuted[:0]
}

// takeHeld takes the session's waiting requests in order while its
// connection is not muted.
func (b *Broker) takeHeld(from sim.NodeID, s *produceSession) {
	for !s.busy {
		i := slices.IndexFunc(s.held, func(h protocol.ProduceRequest) bool { return h.Ordinal == s.next })
		if i < 0 {
			return
		}
		h := s.held[i]
		s.held = slices.Delete(s.held, i, i+1)
		b.takeProduce(from, s, h)
	}
}

// takeProduce handles the next request of a session, in order.
func (b *Broker) takeProduce(from sim.NodeID, s *produceSession, m protocol.ProduceRequest) {
	s.recent[m.Ordinal%produceRing] = produceEntry{ordinal: m.Ordinal, id: m.RequestID}
	s.next = m.Ordinal + 1
	s.busy = m.Acks != 0 // acks=0 has no response: Kafka unmutes at once

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
		b.respondProduce(s, from, m.Ordinal, protocol.ProduceResponse{RequestID: m.RequestID, Partitions: results})
	default:
		d.id, d.session, d.conn, d.from, d.requestID, d.ordinal, d.results = b.newID(), s, s.connection, from, m.RequestID, m.Ordinal, results
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
	b.respondProduce(d.session, d.from, d.ordinal, protocol.ProduceResponse{RequestID: d.requestID, Partitions: d.results})
	if d.session.connection == d.conn {
		// Its connection is unmuted: the next request is taken once the
		// event that answered this one is done (resumeSessions), not
		// in the middle of it.
		b.unmuted = append(b.unmuted, d.from)
	}
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
func (b *Broker) respondProduce(s *produceSession, to sim.NodeID, ordinal uint64, resp protocol.ProduceResponse) {
	if e := s.entry(ordinal); e != nil && e.id == resp.RequestID {
		e.response, e.answered = resp, true
		s.busy = false
	}
	b.env.Send(to, b.NewProduceResponse(resp))
}

// ---- inspection, for tests and checkers after a run ----
