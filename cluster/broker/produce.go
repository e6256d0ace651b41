package broker

import (
	"fmt"
	"time"

	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/internal/planted"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/node"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/sim"
)

// delayedProduce is an acks=all produce waiting for the high watermark.
type delayedProduce struct {
	id         uint64
	session    *produceSession
	from       sim.NodeID
	requestID  uint64
	baseOffset int64
	lastOffset int64
	timer      sim.TimerID
}

// sessionKey names a client's stream of produce requests to one partition:
// a stand-in for Kafka's per-connection request ordering.
type sessionKey struct {
	client sim.NodeID
	tp     protocol.TopicPartition
}

// produceSession answers a re-sent request from the response already given
// rather than appending its records twice, as TCP would never have delivered
// them twice.
type produceSession struct {
	connection  uint64
	lastRequest uint64
	response    protocol.ProduceResponse // the answer to lastRequest, once answered
	answered    bool
}

func (b *Broker) handleProduce(from sim.NodeID, m protocol.ProduceRequest) {
	if b.monitor != nil {
		b.monitor.ProduceReceived(b.env.Now(), b.id, from, &m)
	}
	key := sessionKey{from, m.TP}
	s := b.sessions[key]
	if s == nil || s.connection != m.Connection {
		s = &produceSession{connection: m.Connection}
		b.sessions[key] = s
	} else if m.RequestID < s.lastRequest {
		return
	} else if m.RequestID == s.lastRequest {
		if s.answered && m.Acks != 0 {
			b.env.Send(from, b.NewProduceResponse(s.response))
		}
		return
	}
	s.lastRequest, s.answered = m.RequestID, false

	fail := func(err protocol.ErrorCode) {
		if m.Acks == 0 {
			// Kafka never answers acks=0; on an error it closes the
			// connection, and the client refreshes its metadata.
			b.env.Send(from, protocol.ConnectionClosed{})
			return
		}
		b.respondProduce(s, from, protocol.ProduceResponse{RequestID: m.RequestID, TP: m.TP, Err: err, BaseOffset: -1})
	}
	r := b.hosted(m.TP)
	switch {
	case r == nil:
		fail(protocol.UnknownTopicOrPartition)
		return
	case r.role != roleLeader:
		fail(protocol.NotLeaderOrFollower)
		return
	case m.Acks == config.AcksAll && len(r.state.ISR) < r.minISR && !planted.Bugs.IgnoreMinISR:
		b.event(journal.Event{Kind: journal.EvNotEnoughReplicas, TP: r.tp, Epoch: r.state.LeaderEpoch, Broker: b.id,
			Detail: fmt.Sprintf("isr %v below min.insync.replicas=%d", r.state.ISR, r.minISR)})
		fail(protocol.NotEnoughReplicas)
		return
	}
	base, err := r.log.CheckSequence(m.ProducerID, m.ProducerEpoch, m.BaseSequence, len(m.Payloads))
	switch {
	case err != protocol.None:
		b.event(journal.Event{Kind: journal.EvOutOfOrder, TP: r.tp, Broker: b.id,
			Detail: fmt.Sprintf("producer %d sequence %d rejected", m.ProducerID, m.BaseSequence)})
		fail(err)
		return
	case base >= 0:
		b.event(journal.Event{Kind: journal.EvDuplicateBatch, TP: r.tp, Offset: base, Broker: b.id,
			Detail: fmt.Sprintf("producer %d sequence %d already at offset %d", m.ProducerID, m.BaseSequence, base)})
	default:
		base = b.appendAsLeader(r, m)
	}
	last := base + int64(len(m.Payloads)) - 1
	b.maybeIncrementHW(r)
	switch {
	case m.Acks == 0:
		return
	case m.Acks == 1 || r.log.HW > last:
		if m.Acks == config.AcksAll {
			b.ackAll(r, base, last)
		}
		b.respondProduce(s, from, protocol.ProduceResponse{RequestID: m.RequestID, TP: m.TP, BaseOffset: base})
	default:
		id := b.newID()
		t := b.SetTimer(b.env, time.Duration(m.Timeout)*time.Millisecond, node.Timer{Kind: node.TProduceExpire, TP: r.tp, ID: id})
		r.purgatory = append(r.purgatory, delayedProduce{id: id, session: s, from: from, requestID: m.RequestID, baseOffset: base, lastOffset: last, timer: t})
	}
}

func (b *Broker) appendAsLeader(r *replica, m protocol.ProduceRequest) int64 {
	base := r.log.LEO()
	seq := int32(-1)
	if m.ProducerID >= 0 {
		seq = m.BaseSequence
	}
	// The request's payloads become the batch: the producer never changes
	// a batch it sent.
	batch := b.batches.One()
	*batch = protocol.Batch{BaseOffset: base, ProducerID: m.ProducerID, Payloads: m.Payloads, BaseSequence: seq,
		Epoch: r.state.LeaderEpoch, ProducerEpoch: m.ProducerEpoch}
	r.log.Append(batch)
	if r.log.Unflushed >= r.flushMessages {
		r.log.Flush()
	}
	b.wakeParked(r)
	return base
}

// completeDelayedProduces answers acks=all produces the high watermark has
// passed — with NOT_ENOUGH_REPLICAS_AFTER_APPEND if the ISR shrank below the
// minimum meanwhile, though the records are committed all the same.
func (b *Broker) completeDelayedProduces(r *replica) {
	kept := r.purgatory[:0]
	for _, p := range r.purgatory {
		if r.log.HW <= p.lastOffset {
			kept = append(kept, p)
			continue
		}
		b.env.CancelTimer(p.timer)
		resp := protocol.ProduceResponse{RequestID: p.requestID, TP: r.tp, BaseOffset: p.baseOffset}
		if len(r.maximalISR()) < r.minISR && !planted.Bugs.IgnoreMinISR {
			resp.Err, resp.BaseOffset = protocol.NotEnoughReplicasAfterAppend, -1
			b.event(journal.Event{Kind: journal.EvNotEnoughReplicasAfterAppend, TP: r.tp, Epoch: r.state.LeaderEpoch, Offset: p.baseOffset, Broker: b.id,
				Detail: fmt.Sprintf("offsets %d-%d committed with isr %v below min.insync.replicas=%d: NOT_ENOUGH_REPLICAS_AFTER_APPEND", p.baseOffset, p.lastOffset, r.maximalISR(), r.minISR)})
		} else {
			b.ackAll(r, p.baseOffset, p.lastOffset)
		}
		b.respondProduce(p.session, p.from, resp)
	}
	r.purgatory = kept
}

// respondProduce answers a produce request of session s, which keeps the
// answer for a re-sent request while the request is its latest.
func (b *Broker) respondProduce(s *produceSession, to sim.NodeID, resp protocol.ProduceResponse) {
	if s.lastRequest == resp.RequestID {
		s.response, s.answered = resp, true
	}
	b.env.Send(to, b.NewProduceResponse(resp))
}

// ---- inspection, for tests and checkers after a run ----
