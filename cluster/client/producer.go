package client

import (
	"fmt"
	"time"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/internal/planted"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/node"
	"github.com/tideline-sim/tideline/cluster/protocol"
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
	payloads      []int64                     // as sent: every attempt sends the same slice, which the leader's log keeps
	partitions    []protocol.ProducePartition // the request's one partition, as sent
	epoch         int16
	baseSeq       int32
	request       uint64 // current attempt's request ID
	sent          bool   // false while backing off before the next attempt
	attemptStart  clock.Time
	firstSent     clock.Time // when the first attempt went out: the earliest the records can have been written
	retransmitGap time.Duration
	timer         sim.TimerID
	sentTo        protocol.BrokerID
	attempts      int64
	maybeAppended bool // some attempt may have written the records
	lastErr       protocol.ErrorCode
	awaitingConn  bool // due, but the leader's connection is not ready yet
}

type producerPartition struct {
	tp       protocol.TopicPartition
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
	node.Recyclers // of the messages and timers it makes

	index   int
	cfg     config.ProducerConfig
	history *journal.History
	env     sim.Env
	meta    metadataView

	connection    uint64
	conns         []brokerConn // by BrokerID
	producerID    int64
	producerEpoch int16
	pidRequest    uint64
	parts         []*producerPartition
	nextPayload   int64
	turn          int
	batches       node.Arena[batch]
	payloads      node.Arena[int64]
	produceParts  node.Arena[protocol.ProducePartition]
	// buffered is the bytes of records sent and not yet completed: what
	// buffer.memory bounds. blocked is the send() waiting for room.
	buffered int64
	blocked  *blockedSend
}

// blockedSend is the application's send() blocked in BufferPool.allocate:
// the application thread waits, sending nothing else, until buffer memory
// frees up or max.block.ms passes.
type blockedSend struct {
	part  *producerPartition
	rec   pendingRecord
	timer sim.TimerID
}

// NewProducer returns producer number index (payload IDs embed it).
func NewProducer(index int, cfg config.ProducerConfig, dir node.Directory, history *journal.History) *Producer {
	p := &Producer{index: index, cfg: cfg, history: history,
		meta: metadataView{topic: cfg.Topic, dir: dir, retransmit: cfg.Retransmit}}
	p.meta.rec = &p.Recyclers
	return p
}

func (p *Producer) Start(env sim.Env) {
	p.env = env
	p.connection = env.Rand().Uint64()
	p.producerID = -1
	p.buffered, p.blocked = 0, nil
	p.parts = make([]*producerPartition, len(p.cfg.PartitionsToProduce))
	for i, n := range p.cfg.PartitionsToProduce {
		p.parts[i] = &producerPartition{tp: protocol.TopicPartition{Topic: p.cfg.Topic, Partition: n}}
	}
	p.conns = make([]brokerConn, len(p.meta.dir.Brokers))
	p.meta.choose = p.leastLoadedBroker
	p.meta.refresh(env)
	p.SetTimer(env, p.cfg.MetadataMaxAge, node.Timer{Kind: node.TMetadata})
	if p.cfg.Idempotence {
		p.initProducerID()
	}
	p.SetTimer(env, max(0, clock.At(p.cfg.Start).Sub(env.Now())), node.Timer{Kind: node.TProduce})
}

func (p *Producer) interval() time.Duration {
	return time.Duration(float64(time.Second) / p.cfg.Rate)
}

func (p *Producer) initProducerID() {
	p.pidRequest = p.meta.newID()
	broker := p.meta.dir.Brokers[p.meta.nextBroker%len(p.meta.dir.Brokers)]
	p.meta.nextBroker++
	p.env.Send(broker, protocol.InitProducerIDRequest{RequestID: p.pidRequest})
	p.SetTimer(p.env, 5*p.cfg.Retransmit, node.Timer{Kind: node.TInitPID, ID: p.pidRequest})
}

func (p *Producer) Receive(env sim.Env, from sim.NodeID, msg sim.Message) {
	switch m := msg.(type) {
	case protocol.MetadataResponse:
		// New metadata moves only what waits to be sent: a request in
		// flight on a live connection waits for its answer, its
		// request.timeout.ms or the connection's end, as in Kafka.
		if p.meta.onResponse(m) {
			p.sendAll()
		}
	case protocol.ApiVersionsResponse:
		p.onConnected(m.RequestID)
	case sim.ConnectionReset:
		p.disconnected(m.Peer)
	case protocol.ConnectionClosed:
		p.disconnected(from)
	case protocol.InitProducerIDResponse:
		if m.RequestID == p.pidRequest && p.producerID < 0 {
			p.producerID, p.producerEpoch = m.ProducerID, m.ProducerEpoch
			p.sendAll()
		}
	case *protocol.ProduceResponse:
		p.handleResponse(*m)
	}
	p.maybeUnblock()
}

func (p *Producer) Timer(env sim.Env, t sim.Timer) {
	tm := *t.(*node.Timer)
	if tm.Kind == node.TMetadata && tm.ID == 0 {
		p.meta.refresh(env) // metadata.max.age.ms
		p.SetTimer(env, p.cfg.MetadataMaxAge, tm)
		return
	}
	if p.meta.onTimer(env, tm) {
		return
	}
	switch tm.Kind {
	case node.TProduce:
		if p.cfg.Stop > 0 && env.Now() >= clock.At(p.cfg.Stop) {
			return
		}
		if p.produceOne() {
			p.SetTimer(env, p.interval(), tm)
		}
	case node.TMaxBlock:
		if b := p.blocked; b != nil {
			// BufferExhaustedException, through the record's callback: it
			// never left the application, so it definitely failed.
			p.blocked = nil
			p.history.Add(journal.Op{Time: env.Now(), Process: env.Name(), Type: journal.Fail, F: journal.OpSend, TP: b.part.tp, Payload: b.rec.payload, Offset: -1,
				Acks: int8(p.cfg.Acks), Broker: protocol.NoLeader, Idempotent: p.cfg.Idempotence,
				Note: fmt.Sprintf("BufferExhaustedException: send() blocked max.block.ms (%v) for buffer.memory", p.cfg.MaxBlock)})
			p.SetTimer(env, p.interval(), node.Timer{Kind: node.TProduce})
		}
	case node.TInitPID:
		if tm.ID == p.pidRequest && p.producerID < 0 {
			p.initProducerID()
		}
	case node.TProduceRetry:
		p.onRetryTimer(tm)
	case node.TConnect:
		p.onConnectTimer(tm)
	}
	p.maybeUnblock()
}

// produceOne is the application calling send() for its next record; it
// reports false when send() blocks for buffer memory.
func (p *Producer) produceOne() bool {
	part := p.parts[p.turn%len(p.parts)]
	p.turn++
	p.nextPayload++
	rec := pendingRecord{payload: journal.PayloadFor(p.index, p.nextPayload), created: p.env.Now()}
	p.history.Add(journal.Op{Time: rec.created, Process: p.env.Name(), Type: journal.Invoke, F: journal.OpSend, TP: part.tp, Payload: rec.payload, Offset: -1,
		Acks: int8(p.cfg.Acks), Broker: protocol.NoLeader, Idempotent: p.cfg.Idempotence})
	if p.buffered+p.cfg.RecordSize > p.cfg.BufferMemory {
		// Kafka's buffer pool hands out batch.size at a time; tideline
		// counts each waiting record's bytes.
		p.blocked = &blockedSend{part: part, rec: rec}
		p.blocked.timer = p.SetTimer(p.env, p.cfg.MaxBlock, node.Timer{Kind: node.TMaxBlock})
		return false
	}
	p.enqueue(part, rec)
	return true
}

// maybeUnblock lets a blocked send() through once its record fits: the
// application goes on with its next record an interval later.
func (p *Producer) maybeUnblock() {
	b := p.blocked
	if b == nil || p.buffered+p.cfg.RecordSize > p.cfg.BufferMemory {
		return
	}
	p.blocked = nil
	p.env.CancelTimer(b.timer)
	b.rec.created = p.env.Now() // its batch (and delivery.timeout.ms) starts now
	p.enqueue(b.part, b.rec)
	p.SetTimer(p.env, p.interval(), node.Timer{Kind: node.TProduce})
}

// enqueue adds a record to its partition's queue, in buffer memory.
func (p *Producer) enqueue(part *producerPartition, rec pendingRecord) {
	p.buffered += p.cfg.RecordSize
	if len(part.queue) == cap(part.queue) {
		// Batches alias the queue's array, so it is never reused: grow it
		// a block at a time rather than one record at a time.
		part.queue = append(make([]pendingRecord, 0, max(node.ArenaBlock, 2*len(part.queue))), part.queue...)
	}
	part.queue = append(part.queue, rec)
	p.expireQueued(part)
	p.trySend(part)
}

func (p *Producer) sendAll() {
	for _, part := range p.parts {
		if b := part.inflight; b != nil && b.awaitingConn {
			p.attempt(part)
		}
		p.expireQueued(part)
		p.trySend(part)
	}
}

// expireQueued gives up records that waited past delivery.timeout.ms
// without being sent: queued ones, and a batch waiting for its leader's
// connection.
func (p *Producer) expireQueued(part *producerPartition) {
	if b := part.inflight; b != nil && b.awaitingConn && p.env.Now().Sub(b.records[0].created) >= p.cfg.DeliveryTimeout {
		p.finish(part)
	}
	n := 0
	for n < len(part.queue) && p.env.Now().Sub(part.queue[n].created) >= p.cfg.DeliveryTimeout {
		n++
	}
	for _, rec := range part.queue[:n] {
		p.complete(part, rec, journal.Fail, -1, protocol.None, "delivery.timeout.ms expired before sending")
	}
	part.queue = part.queue[n:]
}

func (p *Producer) trySend(part *producerPartition) {
	if part.inflight != nil || len(part.queue) == 0 || (p.cfg.Idempotence && p.producerID < 0) {
		return
	}
	if leader, _ := p.meta.leader(part.tp.Partition); leader == protocol.NoLeader {
		p.meta.refresh(p.env)
		if !part.waiting {
			part.waiting = true
			p.retryLater(part, nil)
		}
		return
	}
	n := min(len(part.queue), p.maxBatch())
	b := p.batches.One()
	*b = batch{records: part.queue[:n:n], baseSeq: -1, epoch: p.producerEpoch}
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
	if leader == protocol.NoLeader {
		p.meta.refresh(p.env)
		p.retryLater(part, b)
		return
	}
	if !p.connectionReady(leader) {
		// Kafka's sender sends only to a ready node: the batch waits for
		// the connection (sendAll sends it), or for its delivery timeout.
		b.request, b.sent, b.awaitingConn = 0, false, true
		return
	}
	b.awaitingConn = false
	b.request = p.meta.newID()
	b.sent = true
	b.sentTo = leader
	b.attempts++
	b.attemptStart = p.env.Now()
	if b.attempts == 1 {
		b.firstSent = b.attemptStart
	}
	b.retransmitGap = p.cfg.Retransmit
	p.env.Send(p.meta.dir.Node(leader), p.NewProduceRequest(p.request(part, b)))
	if p.cfg.Acks == 0 {
		// Kafka completes an acks=0 send as soon as it is written to the
		// connection, with offset -1: acknowledged, nowhere in particular.
		for _, rec := range b.records {
			p.completeAt(part, rec, journal.Ok, -1, protocol.None, "acks=0: written to the connection", leader, b.firstSent)
		}
		part.inflight = nil
		p.trySend(part)
		return
	}
	b.timer = p.SetTimer(p.env, b.retransmitGap, node.Timer{Kind: node.TProduceRetry, TP: part.tp, ID: b.request})
}

func (p *Producer) request(part *producerPartition, b *batch) protocol.ProduceRequest {
	if b.payloads == nil {
		b.payloads = p.payloads.Slice(len(b.records))
		for i, rec := range b.records {
			b.payloads[i] = rec.payload
		}
	}
	acks := p.cfg.Acks
	if planted.Bugs.AcksOne && acks == config.AcksAll {
		acks = 1
	}
	if b.partitions == nil {
		// Every attempt sends the same batch: one slice, made once.
		b.partitions = p.produceParts.Slice(1)
	}
	b.partitions[0] = protocol.ProducePartition{TP: part.tp, BaseSequence: b.baseSeq, Payloads: b.payloads}
	return protocol.ProduceRequest{RequestID: b.request, Connection: p.connection, Acks: acks, Timeout: p.cfg.RequestTimeout.Milliseconds(),
		ProducerID: p.producerID, ProducerEpoch: b.epoch, Partitions: b.partitions}
}

// retryLater arms the retry.backoff.ms timer for a partition's batch (or,
// with b nil, for its queue while the leader is unknown).
func (p *Producer) retryLater(part *producerPartition, b *batch) {
	id := p.meta.newID()
	if b != nil {
		// The batch now waits for the backoff, not for a connection: a
		// batch left marked awaitingConn would ignore its own retry timer
		// and wait for a metadata answer that may never come (the RF=1
		// wedge: a stale answer from a restarted broker ends the chain).
		b.request, b.sent, b.awaitingConn = id, false, false
	}
	p.SetTimer(p.env, p.cfg.RetryBackoff, node.Timer{Kind: node.TProduceRetry, TP: part.tp, ID: id})
}

// maxBatch is how many records one request may carry: batch.size worth for
// each of max.in.flight.requests.per.connection batches, since this producer
// sends them as one request rather than pipelining them.
func (p *Producer) maxBatch() int {
	return int(max(1, p.cfg.BatchSize/p.cfg.RecordSize*int64(max(1, p.cfg.MaxInFlight))))
}

func (p *Producer) partition(tp protocol.TopicPartition) *producerPartition {
	for _, part := range p.parts {
		if part.tp == tp {
			return part
		}
	}
	return nil
}

func (p *Producer) onRetryTimer(tm node.Timer) {
	part := p.partition(tm.TP)
	if part == nil {
		return
	}
	b := part.inflight
	switch {
	case b == nil:
		part.waiting = false
		p.expireQueued(part)
		p.trySend(part)
	case b.request != tm.ID || b.awaitingConn:
		return // stale timer
	case !b.sent:
		p.attempt(part)
	case p.env.Now().Sub(b.attemptStart) >= p.cfg.RequestTimeout:
		// request.timeout.ms: give the attempt up; it may have been written.
		b.maybeAppended, b.lastErr = true, protocol.RequestTimedOut
		p.meta.refresh(p.env)
		p.retryOrFinish(part)
	default:
		// No answer yet: re-send the same request, as TCP would retransmit
		// it (the broker answers a request ID only once).
		p.env.Send(p.meta.dir.Node(b.sentTo), p.NewProduceRequest(p.request(part, b)))
		b.retransmitGap = min(2*b.retransmitGap, node.MaxRetransmitGap)
		wait := min(b.retransmitGap, p.cfg.RequestTimeout-p.env.Now().Sub(b.attemptStart))
		b.timer = p.SetTimer(p.env, wait, node.Timer{Kind: node.TProduceRetry, TP: part.tp, ID: b.request})
	}
}

func (p *Producer) handleResponse(resp protocol.ProduceResponse) {
	if len(resp.Partitions) != 1 {
		return // this producer sends one partition a request
	}
	m := resp.Partitions[0]
	part := p.partition(m.TP)
	if part == nil || part.inflight == nil || !part.inflight.sent || part.inflight.request != resp.RequestID {
		return
	}
	b := part.inflight
	p.env.CancelTimer(b.timer)
	if m.Err == protocol.None {
		for i, rec := range b.records {
			p.completeAt(part, rec, journal.Ok, m.BaseOffset+int64(i), protocol.None, "", b.sentTo, b.firstSent)
		}
		part.inflight = nil
		p.trySend(part)
		return
	}
	b.lastErr = m.Err
	if !m.Err.NotAppended() {
		b.maybeAppended = true
	}
	if m.Err == protocol.OutOfOrderSequenceNumber {
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
	outcome, note := journal.Fail, "retries exhausted"
	if b.maybeAppended {
		outcome, note = journal.Info, "outcome unknown"
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

func (p *Producer) complete(part *producerPartition, rec pendingRecord, outcome journal.OpType, offset int64, err protocol.ErrorCode, note string) {
	p.completeAt(part, rec, outcome, offset, err, note, protocol.NoLeader, 0)
}

func (p *Producer) completeAt(part *producerPartition, rec pendingRecord, outcome journal.OpType, offset int64, err protocol.ErrorCode, note string, broker protocol.BrokerID, sent clock.Time) {
	p.buffered -= p.cfg.RecordSize // its batch's memory goes back to the pool
	p.history.Add(journal.Op{Time: p.env.Now(), Process: p.env.Name(), Type: outcome, F: journal.OpSend, TP: part.tp,
		Payload: rec.payload, Offset: offset, Acks: int8(p.cfg.Acks), Err: err, Note: note, Broker: broker, Idempotent: p.cfg.Idempotence, Start: sent})
}

// brokerConn is the producer's connection to one broker, as Kafka's
// NetworkClient keeps it: usable once its ApiVersions request is answered;
// after a reset, a close or a setup timeout it waits reconnect.backoff.ms
// (doubling up to reconnect.backoff.max.ms) before the next attempt.
type brokerConn struct {
	ready     bool
	handshake node.Call  // the ApiVersions request in flight, or the backoff before the next
	started   clock.Time // when the handshake began
	backoff   time.Duration
}

// connectionReady reports whether the connection to b is usable, and
// starts opening it if it is neither open nor backing off.
func (p *Producer) connectionReady(b protocol.BrokerID) bool {
	c := &p.conns[b]
	if c.ready {
		return true
	}
	if c.handshake.ID == 0 {
		id := p.meta.newID()
		c.started = p.env.Now()
		c.handshake.Send(&p.Recyclers, p.env, id, p.meta.dir.Node(b), protocol.ApiVersionsRequest{RequestID: id}, p.cfg.Retransmit, node.Timer{Kind: node.TConnect})
	}
	return false
}

func (p *Producer) onConnected(id uint64) {
	for b := range p.conns {
		c := &p.conns[b]
		if _, ok := c.handshake.Answered(p.env, id); ok {
			c.ready, c.backoff = true, 0
			p.sendAll()
			return
		}
	}
}

// onConnectTimer retransmits a handshake, gives it up after
// socket.connection.setup.timeout.ms, or ends a reconnect backoff.
func (p *Producer) onConnectTimer(tm node.Timer) {
	for b := range p.conns {
		c := &p.conns[b]
		if c.handshake.ID != tm.ID {
			continue
		}
		switch {
		case !c.handshake.Sent:
			c.handshake.Cancel(p.env) // backoff over: the next send reconnects
			p.sendAll()
		case p.env.Now().Sub(c.started) >= p.cfg.ConnectionSetup:
			p.disconnected(p.meta.dir.Node(protocol.BrokerID(b)))
		default:
			c.handshake.OnTimer(&p.Recyclers, p.env, tm)
		}
		return
	}
}

// disconnected is the connection to a broker's node ending: requests in
// flight on it have an unknown outcome and are retried, metadata is
// refreshed (Kafka's NetworkClient asks for it on every disconnect), and
// the connection backs off before it is opened again.
func (p *Producer) disconnected(peer sim.NodeID) {
	b, ok := p.meta.dir.BrokerOf(peer)
	if !ok {
		p.meta.onReset(p.env, peer)
		return
	}
	c := &p.conns[b]
	wasReady := c.ready
	c.ready = false
	c.backoff = min(max(2*c.backoff, p.cfg.ReconnectBackoff), p.cfg.ReconnectBackoffMax)
	c.handshake.Backoff(&p.Recyclers, p.env, p.meta.newID(), c.backoff, node.Timer{Kind: node.TConnect})
	if wasReady {
		for _, part := range p.parts {
			if bt := part.inflight; bt != nil && bt.sent && bt.sentTo == b {
				p.env.CancelTimer(bt.timer)
				bt.maybeAppended, bt.lastErr = true, protocol.NetworkException
				p.retryOrFinish(part)
			}
		}
	}
	p.meta.onReset(p.env, peer)
	p.meta.refresh(p.env)
}

// leastLoadedBroker picks where a metadata request goes, as Kafka's
// leastLoadedNode: the broker with the fewest requests in flight from this
// producer, skipping those backing off from a failed connection; ties go to
// the next in turn.
func (p *Producer) leastLoadedBroker() protocol.BrokerID {
	n := len(p.meta.dir.Brokers)
	best, bestLoad := protocol.BrokerID(p.meta.nextBroker%n), -1
	for i := range n {
		b := protocol.BrokerID((p.meta.nextBroker + i) % n)
		c := &p.conns[b]
		if !c.ready && c.handshake.ID != 0 && !c.handshake.Sent {
			continue // backing off
		}
		load := 0
		for _, part := range p.parts {
			if bt := part.inflight; bt != nil && bt.sent && bt.sentTo == b {
				load++
			}
		}
		if bestLoad < 0 || load < bestLoad {
			best, bestLoad = b, load
		}
	}
	p.meta.nextBroker++
	return best
}
