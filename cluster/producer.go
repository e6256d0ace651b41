package cluster

import (
	"fmt"
	"time"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/sim"
)

// pendingRecord is a record the application handed to the producer.
type pendingRecord struct {
	payload int64
	created clock.Time
}

// batch is the records of one produce request, across its attempts.
type batch struct {
	records       []pendingRecord
	epoch         int16
	baseSeq       int32
	request       uint64 // current attempt's request ID
	sent          bool   // false while backing off before the next attempt
	attemptStart  clock.Time
	firstSent     clock.Time // when the first attempt went out: the earliest the records can have been written
	retransmitGap time.Duration
	timer         sim.TimerID
	sentTo        BrokerID
	attempts      int64
	maybeAppended bool // some attempt may have written the records
	lastErr       ErrorCode
}

type producerPartition struct {
	tp       TopicPartition
	queue    []pendingRecord
	inflight *batch
	nextSeq  int32
	waiting  bool // a backoff timer runs while the leader is unknown
}

// Producer is a Kafka producer client running a steady workload: rate
// records per second, spread over the topic's partitions in turn. Each send
// is recorded in the history as invoke, then ok, fail or info.
//
// It sends one batch per partition at a time (as max.in.flight = 1), which
// keeps ordering and sequence numbers simple to reason about; Kafka allows
// up to five with idempotence.
type Producer struct {
	index   int
	cfg     ProducerConfig
	history *History
	env     sim.Env
	meta    metadataView

	connection    uint64
	producerID    int64
	producerEpoch int16
	pidRequest    uint64
	parts         []*producerPartition
	nextPayload   int64
	turn          int
}

// NewProducer returns producer number index (payload IDs embed it).
func NewProducer(index int, cfg ProducerConfig, dir Directory, history *History) *Producer {
	return &Producer{index: index, cfg: cfg, history: history,
		meta: metadataView{topic: cfg.Topic, dir: dir, retransmit: cfg.Retransmit}}
}

func (p *Producer) Start(env sim.Env) {
	p.env = env
	p.connection = env.Rand().Uint64()
	p.producerID = -1
	p.parts = make([]*producerPartition, len(p.cfg.PartitionsToProduce))
	for i, n := range p.cfg.PartitionsToProduce {
		p.parts[i] = &producerPartition{tp: TopicPartition{p.cfg.Topic, n}}
	}
	p.meta.refresh(env)
	env.SetTimer(p.cfg.MetadataMaxAge, timer{kind: tMetadata})
	if p.cfg.Idempotence {
		p.initProducerID()
	}
	env.SetTimer(max(0, clock.At(p.cfg.Start).Sub(env.Now())), timer{kind: tProduce})
}

func (p *Producer) interval() time.Duration {
	return time.Duration(float64(time.Second) / p.cfg.Rate)
}

func (p *Producer) initProducerID() {
	p.pidRequest = p.meta.newID()
	broker := p.meta.dir.Brokers[p.meta.nextBroker%len(p.meta.dir.Brokers)]
	p.meta.nextBroker++
	p.env.Send(broker, InitProducerIDRequest{RequestID: p.pidRequest})
	p.env.SetTimer(5*p.cfg.Retransmit, timer{kind: tInitPID, id: p.pidRequest})
}

func (p *Producer) Receive(env sim.Env, from sim.NodeID, msg sim.Message) {
	switch m := msg.(type) {
	case MetadataResponse:
		if p.meta.onResponse(m) {
			p.abandonMovedAttempts()
			p.sendAll()
		}
	case InitProducerIDResponse:
		if m.RequestID == p.pidRequest && p.producerID < 0 {
			p.producerID, p.producerEpoch = m.ProducerID, m.ProducerEpoch
			p.sendAll()
		}
	case ProduceResponse:
		p.handleResponse(m)
	}
}

func (p *Producer) Timer(env sim.Env, t sim.Timer) {
	tm := t.(timer)
	if tm.kind == tMetadata && tm.id == 0 {
		p.meta.refresh(env) // metadata.max.age.ms
		env.SetTimer(p.cfg.MetadataMaxAge, tm)
		return
	}
	if p.meta.onTimer(env, tm) {
		return
	}
	switch tm.kind {
	case tProduce:
		if p.cfg.Stop > 0 && env.Now() >= clock.At(p.cfg.Stop) {
			return
		}
		p.produceOne()
		env.SetTimer(p.interval(), tm)
	case tInitPID:
		if tm.id == p.pidRequest && p.producerID < 0 {
			p.initProducerID()
		}
	case tProduceRetry:
		p.onRetryTimer(tm)
	}
}

func (p *Producer) produceOne() {
	part := p.parts[p.turn%len(p.parts)]
	p.turn++
	p.nextPayload++
	rec := pendingRecord{payload: int64(p.index+1)<<40 | p.nextPayload, created: p.env.Now()}
	p.history.add(Op{Time: rec.created, Process: p.env.Name(), Type: Invoke, F: OpSend, TP: part.tp, Payload: rec.payload, Offset: -1,
		Acks: p.cfg.Acks, Broker: NoLeader, Idempotent: p.cfg.Idempotence})
	part.queue = append(part.queue, rec)
	p.expireQueued(part)
	p.trySend(part)
}

// abandonMovedAttempts gives up attempts sent to a broker that no longer
// leads their partition, as a client does when its connection to the old
// leader breaks: the outcome is unknown, and the batch is retried.
func (p *Producer) abandonMovedAttempts() {
	for _, part := range p.parts {
		if b := part.inflight; b != nil && b.sent && b.sentTo != p.currentLeader(part) {
			p.env.CancelTimer(b.timer)
			b.maybeAppended, b.lastErr = true, NotLeaderOrFollower
			p.retryOrFinish(part)
		}
	}
}

func (p *Producer) sendAll() {
	for _, part := range p.parts {
		p.expireQueued(part)
		p.trySend(part)
	}
}

// expireQueued fails records that waited in the accumulator past
// delivery.timeout.ms without ever being sent: definitely not written.
func (p *Producer) expireQueued(part *producerPartition) {
	n := 0
	for n < len(part.queue) && p.env.Now().Sub(part.queue[n].created) >= p.cfg.DeliveryTimeout {
		n++
	}
	for _, rec := range part.queue[:n] {
		p.complete(part, rec, Fail, -1, None, "delivery.timeout.ms expired before sending")
	}
	part.queue = part.queue[n:]
}

func (p *Producer) trySend(part *producerPartition) {
	if part.inflight != nil || len(part.queue) == 0 || (p.cfg.Idempotence && p.producerID < 0) {
		return
	}
	if leader, _ := p.meta.leader(part.tp.Partition); leader == NoLeader {
		p.meta.refresh(p.env)
		if !part.waiting {
			part.waiting = true
			p.retryLater(part, nil)
		}
		return
	}
	n := min(len(part.queue), p.maxBatch())
	b := &batch{records: part.queue[:n:n], baseSeq: -1, epoch: p.producerEpoch}
	part.queue = part.queue[n:]
	if p.cfg.Idempotence {
		b.baseSeq = part.nextSeq
		part.nextSeq += int32(n)
	}
	part.inflight = b
	p.attempt(part)
}

// attempt sends the in-flight batch to the partition's leader as a new
// request.
func (p *Producer) attempt(part *producerPartition) {
	b := part.inflight
	leader, _ := p.meta.leader(part.tp.Partition)
	if leader == NoLeader {
		p.meta.refresh(p.env)
		p.retryLater(part, b)
		return
	}
	b.request = p.meta.newID()
	b.sent = true
	b.sentTo = leader
	b.attempts++
	b.attemptStart = p.env.Now()
	if b.attempts == 1 {
		b.firstSent = b.attemptStart
	}
	b.retransmitGap = p.cfg.Retransmit
	p.env.Send(p.meta.dir.node(leader), p.request(part, b))
	if p.cfg.Acks == 0 {
		// Fire and forget: the producer never learns the outcome.
		for _, rec := range b.records {
			p.complete(part, rec, Info, -1, None, "acks=0: no acknowledgement")
		}
		part.inflight = nil
		p.trySend(part)
		return
	}
	b.timer = p.env.SetTimer(b.retransmitGap, timer{kind: tProduceRetry, tp: part.tp, id: b.request})
}

func (p *Producer) request(part *producerPartition, b *batch) ProduceRequest {
	payloads := make([]int64, len(b.records))
	for i, rec := range b.records {
		payloads[i] = rec.payload
	}
	return ProduceRequest{RequestID: b.request, Connection: p.connection, TP: part.tp, Acks: p.cfg.Acks, Timeout: p.cfg.RequestTimeout.Milliseconds(),
		ProducerID: p.producerID, ProducerEpoch: b.epoch, BaseSequence: b.baseSeq, Payloads: payloads}
}

// retryLater arms the retry.backoff.ms timer for a partition's batch (or,
// with b nil, for its queue while the leader is unknown).
func (p *Producer) retryLater(part *producerPartition, b *batch) {
	id := p.meta.newID()
	if b != nil {
		b.request, b.sent = id, false
	}
	p.env.SetTimer(p.cfg.RetryBackoff, timer{kind: tProduceRetry, tp: part.tp, id: id})
}

// maxBatch is how many records one request may carry: batch.size worth for
// each of max.in.flight.requests.per.connection batches, since this producer
// sends them as one request rather than pipelining them.
func (p *Producer) maxBatch() int {
	return int(max(1, p.cfg.BatchSize/p.cfg.RecordSize*int64(max(1, p.cfg.MaxInFlight))))
}

func (p *Producer) currentLeader(part *producerPartition) BrokerID {
	leader, _ := p.meta.leader(part.tp.Partition)
	return leader
}

func (p *Producer) partition(tp TopicPartition) *producerPartition {
	for _, part := range p.parts {
		if part.tp == tp {
			return part
		}
	}
	return nil
}

func (p *Producer) onRetryTimer(tm timer) {
	part := p.partition(tm.tp)
	if part == nil {
		return
	}
	b := part.inflight
	switch {
	case b == nil:
		part.waiting = false
		p.expireQueued(part)
		p.trySend(part)
	case b.request != tm.id:
		return // stale timer
	case !b.sent:
		p.attempt(part)
	case p.env.Now().Sub(b.attemptStart) >= p.cfg.RequestTimeout:
		// request.timeout.ms: give the attempt up; it may have been written.
		b.maybeAppended, b.lastErr = true, RequestTimedOut
		p.meta.refresh(p.env)
		p.retryOrFinish(part)
	default:
		// No answer yet: re-send the same request, as TCP would retransmit
		// it (the broker answers a request ID only once), and check whether
		// leadership moved meanwhile.
		p.env.Send(p.meta.dir.node(b.sentTo), p.request(part, b))
		p.meta.refresh(p.env)
		b.retransmitGap = min(2*b.retransmitGap, maxRetransmitGap)
		wait := min(b.retransmitGap, p.cfg.RequestTimeout-p.env.Now().Sub(b.attemptStart))
		b.timer = p.env.SetTimer(wait, timer{kind: tProduceRetry, tp: part.tp, id: b.request})
	}
}

func (p *Producer) handleResponse(m ProduceResponse) {
	part := p.partition(m.TP)
	if part == nil || part.inflight == nil || !part.inflight.sent || part.inflight.request != m.RequestID {
		return
	}
	b := part.inflight
	p.env.CancelTimer(b.timer)
	if m.Err == None {
		for i, rec := range b.records {
			p.completeAt(part, rec, Ok, m.BaseOffset+int64(i), None, "", b.sentTo, b.firstSent)
		}
		part.inflight = nil
		p.trySend(part)
		return
	}
	b.lastErr = m.Err
	if !m.Err.NotAppended() {
		b.maybeAppended = true
	}
	if m.Err == OutOfOrderSequenceNumber {
		// KIP-360: bump the producer epoch and start the sequences over,
		// rather than die; this batch is given up.
		p.producerEpoch++
		for _, other := range p.parts {
			other.nextSeq = 0
		}
		p.finish(part)
		return
	}
	p.meta.refresh(p.env)
	p.retryOrFinish(part)
}

// retryOrFinish retries the in-flight batch after the backoff unless its
// retries or its delivery timeout are spent.
func (p *Producer) retryOrFinish(part *producerPartition) {
	b := part.inflight
	deadline := b.records[0].created.Add(p.cfg.DeliveryTimeout)
	if b.attempts > p.cfg.Retries || p.env.Now().Add(p.cfg.RetryBackoff) >= deadline {
		p.finish(part)
		return
	}
	p.retryLater(part, b)
}

// finish gives the in-flight batch up: fail if no attempt can have written
// it, info otherwise.
func (p *Producer) finish(part *producerPartition) {
	b := part.inflight
	outcome, note := Fail, "retries exhausted"
	if b.maybeAppended {
		outcome, note = Info, "outcome unknown"
	}
	if b.attempts > p.cfg.Retries {
		note += fmt.Sprintf(" after %d attempts", b.attempts)
	} else {
		note += ": delivery.timeout.ms"
	}
	for _, rec := range b.records {
		p.complete(part, rec, outcome, -1, b.lastErr, note)
	}
	part.inflight = nil
	p.trySend(part)
}

func (p *Producer) complete(part *producerPartition, rec pendingRecord, outcome OpType, offset int64, err ErrorCode, note string) {
	p.completeAt(part, rec, outcome, offset, err, note, NoLeader, 0)
}

func (p *Producer) completeAt(part *producerPartition, rec pendingRecord, outcome OpType, offset int64, err ErrorCode, note string, broker BrokerID, sent clock.Time) {
	p.history.add(Op{Time: p.env.Now(), Process: p.env.Name(), Type: outcome, F: OpSend, TP: part.tp,
		Payload: rec.payload, Offset: offset, Acks: p.cfg.Acks, Err: err, Note: note, Broker: broker, Idempotent: p.cfg.Idempotence, Start: sent})
}
