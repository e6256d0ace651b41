package client

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/internal/nodetest"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/node"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/sim"
)

var orders0 = protocol.TopicPartition{Topic: "orders"}

// senderRig is a producer of one partition led by broker 0, its
// connection open, one record to a batch and no linger: each send() is a
// request of its own, up to max.in.flight.
type senderRig struct {
	t   *testing.T
	env *nodetest.Env
	p   *Producer
	h   *journal.History
}

func newSenderRig(t *testing.T, idempotent bool) *senderRig {
	env := nodetest.NewEnv()
	dir := node.Directory{Controller: 3, Brokers: []sim.NodeID{0, 1, 2}}
	cfg := config.DefaultProducerConfig("orders")
	cfg.Idempotence, cfg.PartitionsToProduce = idempotent, []int32{0}
	cfg.BatchSize, cfg.Linger = cfg.RecordSize, 0
	h := journal.HistoryOf()
	p := NewProducer(0, cfg, dir, h, &journal.ProducerMetrics{})
	p.Start(env)
	if idempotent {
		p.Receive(env, 1, protocol.InitProducerIDResponse{RequestID: p.pidRequest, ProducerID: 7})
	}
	p.Receive(env, 1, protocol.MetadataResponse{RequestID: p.meta.request, Image: protocol.Image{Version: 1,
		Partitions: protocol.TableOf(protocol.PartitionState{TP: orders0, Replicas: []protocol.BrokerID{0}, ISR: []protocol.BrokerID{0}, Leader: 0})}})
	r := &senderRig{t: t, env: env, p: p, h: h}
	p.produceOne() // opens the connection
	hs, ok := nodetest.Last[protocol.ApiVersionsRequest](env)
	require.True(t, ok, "the connection's handshake")
	p.Receive(env, 0, protocol.ApiVersionsResponse(hs))
	return r
}

// requests returns the produce requests sent since the last call.
func (r *senderRig) requests() []*protocol.ProduceRequest {
	var out []*protocol.ProduceRequest
	for _, s := range r.env.Sent {
		if m, ok := s.Msg.(*protocol.ProduceRequest); ok {
			out = append(out, m)
		}
	}
	r.env.Sent = nil
	return out
}

func (r *senderRig) answer(m *protocol.ProduceRequest, err protocol.ErrorCode, offset int64) {
	r.p.Receive(r.env, 0, &protocol.ProduceResponse{RequestID: m.RequestID,
		Partitions: []protocol.ProducePartitionResponse{{TP: orders0, Err: err, BaseOffset: offset}}})
}

// after moves time on by d and fires the sender's wake-up.
func (r *senderRig) after(d time.Duration) {
	r.env.T = r.env.T.Add(d)
	for _, tm := range r.env.Armed {
		if t, ok := tm.(*node.Timer); ok && t.Kind == node.TLinger && t.ID == r.p.wake {
			r.p.Timer(r.env, t)
			return
		}
	}
}

// acked returns the offset each payload was acknowledged at.
func (r *senderRig) acked() map[int64]int64 {
	out := map[int64]int64{}
	for _, op := range r.h.All() {
		if op.Type == journal.Ok {
			out[op.Payload] = op.Offset
		}
	}
	return out
}

// TestRetriedBatchReordersWithoutIdempotence is Kafka's documented pitfall:
// with retries, several requests in flight and no idempotence, a failed
// batch goes back to the front of its queue (RecordAccumulator.reenqueue,
// addFirst) — ahead of what waits but behind what is already in flight, so
// it lands after a batch sent later.
func TestRetriedBatchReordersWithoutIdempotence(t *testing.T) {
	r := newSenderRig(t, false)
	r.p.produceOne()
	r.p.produceOne()
	sent := r.requests()
	require.Len(t, sent, 3, "three batches, three requests in flight")
	first, second, third := sent[0].Partitions[0].Payloads[0], sent[1].Partitions[0].Payloads[0], sent[2].Partitions[0].Payloads[0]

	r.answer(sent[0], protocol.NotEnoughReplicas, -1) // retriable: it backs off
	r.answer(sent[1], protocol.None, 0)
	r.answer(sent[2], protocol.None, 1)
	r.p.produceOne() // waits behind the retry
	assert.Empty(t, r.requests(), "the retry waits out retry.backoff.ms; the new record waits behind it")

	r.after(time.Second)
	retried := r.requests()
	require.NotEmpty(t, retried)
	assert.Equal(t, []int64{first}, retried[0].Partitions[0].Payloads, "the failed batch goes first")
	r.answer(retried[0], protocol.None, 2)
	acked := r.acked()
	assert.Greater(t, acked[first], acked[third], "sent first, in the log after the third: reordered")
	assert.Less(t, acked[second], acked[third])
}

// TestIdempotentRetriesKeepSequenceOrder: with idempotence the broker
// refuses the batches behind a failed one (OUT_OF_ORDER_SEQUENCE_NUMBER,
// sequence 0 missing), the producer puts every retry back in sequence
// order (insertInSequenceOrder) and sends the first alone, without bumping
// its epoch: the gap is one it knows will fill (TransactionManager.canRetry).
func TestIdempotentRetriesKeepSequenceOrder(t *testing.T) {
	r := newSenderRig(t, true)
	r.p.produceOne()
	r.p.produceOne()
	sent := r.requests()
	require.Len(t, sent, 3)
	for i, m := range sent {
		assert.Equal(t, int32(i), m.Partitions[0].BaseSequence)
	}
	r.answer(sent[2], protocol.OutOfOrderSequenceNumber, -1)
	r.answer(sent[0], protocol.NotEnoughReplicas, -1)
	r.answer(sent[1], protocol.OutOfOrderSequenceNumber, -1)

	var order []int32
	for range 3 {
		r.after(2 * time.Second)
		for _, m := range r.requests() {
			require.Len(t, m.Partitions, 1)
			order = append(order, m.Partitions[0].BaseSequence)
			assert.Equal(t, int16(0), m.ProducerEpoch, "no epoch bump: the gap is known to fill")
			r.answer(m, protocol.None, int64(m.Partitions[0].BaseSequence))
		}
	}
	assert.Equal(t, []int32{0, 1, 2}, order, "retried in sequence order, one at a time")
}

// TestEpochBumpAfterInFlightTimeout (KIP-360, KAFKA-14397): a batch given
// up after it was sent leaves its sequence in doubt; while another batch
// is in flight nothing new is sent, and once none is and no later batch
// was acknowledged, the producer bumps its epoch and starts the
// partition's sequences at 0.
func TestEpochBumpAfterInFlightTimeout(t *testing.T) {
	r := newSenderRig(t, true)
	sent := r.requests()
	require.Len(t, sent, 1)

	// request.timeout.ms passes, and with it delivery.timeout.ms: the
	// connection's requests fail, and the batch's outcome is unknown.
	r.env.T = clock.At(r.p.cfg.DeliveryTimeout)
	for _, tm := range r.env.Armed {
		if t, ok := tm.(*node.Timer); ok && t.Kind == node.TProduceRetry && t.ID == sent[0].RequestID {
			r.p.Timer(r.env, t)
		}
	}
	var outcome journal.OpType
	for _, op := range r.h.All() {
		if op.Payload == sent[0].Partitions[0].Payloads[0] && op.Type != journal.Invoke {
			outcome = op.Type
		}
	}
	assert.Equal(t, journal.Info, outcome, "sent and given up: it may be in the log")

	r.p.produceOne()
	next := r.requests()
	require.Len(t, next, 1)
	assert.Equal(t, int16(1), next[0].ProducerEpoch, "the epoch is bumped")
	assert.Equal(t, int32(0), next[0].Partitions[0].BaseSequence, "and the sequences start over")
}

// TestUnresolvedSequenceResolvedByLaterAck (KAFKA-14397): when a batch
// sent after the one given up is acknowledged, the broker took every
// sequence before it, so nothing is in doubt and the epoch stays.
func TestUnresolvedSequenceResolvedByLaterAck(t *testing.T) {
	r := newSenderRig(t, true)
	r.p.produceOne()
	sent := r.requests()
	require.Len(t, sent, 2)
	r.env.T = clock.At(r.p.cfg.DeliveryTimeout)
	r.answer(sent[0], protocol.RequestTimedOut, -1) // given up: in doubt
	r.p.produceOne()
	assert.Empty(t, r.requests(), "nothing new while a sequence is in doubt and a batch in flight")
	r.answer(sent[1], protocol.None, 1)
	next := r.requests()
	require.Len(t, next, 1)
	assert.Equal(t, int16(0), next[0].ProducerEpoch, "resolved by the later acknowledgement: no bump")
	assert.Equal(t, int32(2), next[0].Partitions[0].BaseSequence)
}
