package client

import (
	"fmt"
	"slices"
	"time"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/internal/planted"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/node"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/sim"
)

// The producer's accumulator and sender, as Kafka's RecordAccumulator and
// Sender: records wait per partition until a batch is full (batch.size)
// or has lingered (linger.ms); a broker whose connection is ready is
// drained into one ProduceRequest holding at most one batch for each
// partition it leads, while fewer than max.in.flight.requests.per.connection
// requests are in flight on that connection. A failed batch is retried
// after retry.backoff.ms (doubling to retry.backoff.max.ms, KIP-580) until
// retries or delivery.timeout.ms run out: without idempotence it goes back
// to the front of its partition's queue — behind batches already in
// flight, so it may land after them (reordered); with idempotence back in
// sequence order, and a partition with a retried batch sends it alone.

// pendingRecord is a record the application handed to the producer.
type pendingRecord struct {
	payload int64
	created clock.Time // when it entered the accumulator
	blocked bool       // send() blocked for buffer memory before that
}

// batch is records of one partition sent together, across their attempts.
type batch struct {
	records       []pendingRecord
	payloads      []int64 // as sent: every attempt sends the same slice, which the leader's log keeps
	epoch         int16
	baseSeq       int32 // -1: none yet (assigned when first drained) or without idempotence
	attempts      int64
	firstSent     clock.Time // the earliest the records can have been written
	retryAt       clock.Time // not sent again before
	maybeAppended bool       // some attempt may have written the records
	lastErr       protocol.ErrorCode
	sentTo        protocol.BrokerID
}

type producerPartition struct {
	tp       protocol.TopicPartition
	queue    []pendingRecord // not yet in a batch
	retries  []*batch        // batches to send again, in the order they go
	inflight []*batch        // sent, unanswered, in the order sent
	nextSeq  int32
	acked    int32 // the last sequence acknowledged, -1 for none
	// unresolved: a batch was given up after it was sent, so whether its
	// sequence reached the log is unknown until what is in flight settles.
	unresolved bool
	index      int32 // its place in the producer's parts
	listed     bool  // in the producer's active list
}

// request is one ProduceRequest in flight.
type request struct {
	id      uint64
	conn    uint64 // the connection it went out on, and its place there
	ordinal uint64
	to      protocol.BrokerID
	batches []*batch
	parts   []*producerPartition
	msg     []protocol.ProducePartition
	sentAt  clock.Time
	gap     time.Duration
	timer   sim.TimerID
}

// batchRecords is how many records fill a batch (batch.size).
func (p *Producer) batchRecords() int {
	return int(max(1, p.cfg.BatchSize/p.cfg.RecordSize))
}

// sendAll is the Sender's loop: expire what waited too long, then drain
// every ready broker while its connection takes more requests, and wake
// again when the next batch lingers out or a retry's backoff ends.
func (p *Producer) sendAll() {
	if p.cfg.Idempotence && p.producerID < 0 {
		return // InitProducerId first
	}
	now := p.env.Now()
	p.pruneActive()
	for _, i := range p.active {
		part := p.parts[i]
		p.expire(part, now)
		p.maybeResolve(part)
	}
	// The brokers with a ready batch, in order: only an active partition
	// can have one.
	ready := p.readyBrokers[:0]
	for _, i := range p.active {
		part := p.parts[i]
		if leader, _ := p.meta.leader(part.tp.Partition); leader >= 0 && !slices.Contains(ready, leader) && p.readyBatch(part, now) {
			ready = append(ready, leader)
		}
	}
	slices.Sort(ready)
	p.readyBrokers = ready
	for _, broker := range ready {
		if !p.connectionReady(broker) {
			continue // sendAll runs again once it is
		}
		for p.conns[broker].inflight < p.cfg.MaxInFlight || p.cfg.Acks == 0 {
			if !p.drain(broker, now) {
				break
			}
		}
	}
	for _, i := range p.active {
		part := p.parts[i]
		if leader, _ := p.meta.leader(part.tp.Partition); leader == protocol.NoLeader && (len(part.queue) > 0 || len(part.retries) > 0) {
			p.meta.refresh(p.env)
			p.wakeAfter(p.cfg.RetryBackoff)
		}
	}
	p.armWake(now)
}

// activate lists a partition that has records waiting, batches to retry
// or a sequence in doubt: the sender's passes look only at those, not at
// every partition of the topic (most of a large topic sits idle).
func (p *Producer) activate(part *producerPartition) {
	if part.listed {
		return
	}
	part.listed = true
	i, _ := slices.BinarySearch(p.active, part.index)
	p.active = slices.Insert(p.active, i, part.index) // in the parts' order, as the passes were
}

// pruneActive drops the partitions with nothing left to do.
func (p *Producer) pruneActive() {
	p.active = slices.DeleteFunc(p.active, func(i int32) bool {
		part := p.parts[i]
		if len(part.queue) > 0 || len(part.retries) > 0 || part.unresolved {
			return false
		}
		part.listed = false
		return true
	})
}

// readyBatch reports whether part has a batch to send now: a retried one
// whose backoff is over, a full one, or one that lingered long enough.
func (p *Producer) readyBatch(part *producerPartition, now clock.Time) bool {
	if p.muted(part) {
		return false
	}
	if len(part.retries) > 0 {
		return part.retries[0].retryAt <= now
	}
	return len(part.queue) >= p.batchRecords() || len(part.queue) > 0 && now.Sub(part.queue[0].created) >= p.cfg.Linger
}

// muted reports whether a partition sends nothing now: with one request
// in flight allowed, while it has a batch in flight (guaranteeMessageOrder);
// with idempotence, while a retried batch waits for the ones in flight to
// settle (RecordAccumulator.shouldStopDrainBatchesForPartition).
func (p *Producer) muted(part *producerPartition) bool {
	if part.unresolved && len(part.retries) == 0 {
		return true // no new sequences while an old one is in doubt
	}
	if len(part.inflight) == 0 {
		return false
	}
	return p.cfg.MaxInFlight == 1 || p.cfg.Idempotence && len(part.retries) > 0
}

// maybeResolve settles a partition's sequence in doubt once nothing is in
// flight (TransactionManager.maybeResolveSequences, KAFKA-14397): if a
// later batch was acknowledged, the broker took every sequence before it
// and nothing is lost; otherwise the gap cannot be known and the epoch is
// bumped (KIP-360).
func (p *Producer) maybeResolve(part *producerPartition) {
	if !part.unresolved || len(part.inflight) > 0 {
		return
	}
	part.unresolved = false
	if part.acked+1 != part.nextSeq {
		p.bumpEpoch()
	}
}

// ledBy returns the indexes (into parts, ascending) of the partitions the
// metadata says broker leads, rebuilt only when the metadata changed: the
// sender looks per broker, and a look through every partition for each
// broker cost O(brokers × partitions) a send.
func (p *Producer) ledBy(broker protocol.BrokerID) []int32 {
	if p.ledByAt != p.meta.changes+1 {
		for b := range p.byLeader {
			p.byLeader[b] = p.byLeader[b][:0]
		}
		for len(p.byLeader) < len(p.conns) {
			p.byLeader = append(p.byLeader, nil)
		}
		for i, part := range p.parts {
			if leader, _ := p.meta.leader(part.tp.Partition); leader >= 0 && int(leader) < len(p.byLeader) {
				p.byLeader[leader] = append(p.byLeader[leader], int32(i))
			}
		}
		p.ledByAt = p.meta.changes + 1
	}
	return p.byLeader[broker]
}

// drain sends one request to broker with a batch of every ready partition
// it leads, round robin from where the last drain began
// (drainBatchesForOneNode); it reports whether it sent one.
func (p *Producer) drain(broker protocol.BrokerID, now clock.Time) bool {
	r := p.newRequest(broker)
	n := len(p.parts)
	led := p.ledBy(broker)
	first, _ := slices.BinarySearch(led, int32(p.drainFrom)) // the round robin's start among them
	for k := range led {
		part := p.parts[led[(first+k)%len(led)]]
		if !p.readyBatch(part, now) {
			continue
		}
		var b *batch
		if len(part.retries) > 0 {
			b = part.retries[0]
			part.retries = part.retries[1:]
		} else {
			k := min(len(part.queue), p.batchRecords())
			b = p.batches.One()
			*b = batch{records: part.queue[:k:k], baseSeq: -1}
			part.queue = part.queue[k:]
		}
		if p.cfg.Idempotence && b.baseSeq < 0 {
			// Sequences are given on first drain, in order.
			b.baseSeq, b.epoch = part.nextSeq, p.producerEpoch
			part.nextSeq += int32(len(b.records))
		}
		if b.payloads == nil {
			b.payloads = p.payloads.Slice(len(b.records))
			for j, rec := range b.records {
				b.payloads[j] = rec.payload
			}
		}
		r.batches, r.parts = append(r.batches, b), append(r.parts, part)
	}
	if len(r.batches) == 0 {
		p.freeRequests = append(p.freeRequests, r)
		return false
	}
	p.drainFrom = (p.drainFrom + 1) % n
	r.msg = p.produceParts.Slice(len(r.batches))
	for i, b := range r.batches {
		r.msg[i] = protocol.ProducePartition{TP: r.parts[i].tp, BaseSequence: b.baseSeq, Payloads: b.payloads}
		b.attempts++
		b.sentTo = broker
		if b.attempts == 1 {
			b.firstSent = now
			p.metrics.Batches++
			p.metrics.BatchRecords += int64(len(b.records))
		} else {
			p.metrics.Retries++
		}
		r.parts[i].inflight = append(r.parts[i].inflight, b)
	}
	r.id, r.sentAt, r.gap = p.meta.newID(), now, p.cfg.Retransmit
	c := &p.conns[broker]
	c.ordinal++
	r.conn, r.ordinal = c.id, c.ordinal
	p.env.Send(p.meta.dir.Node(broker), p.NewProduceRequest(p.produceRequest(r)))
	p.metrics.Requests++
	if p.cfg.Acks == 0 {
		// Kafka completes an acks=0 send as soon as it is written to the
		// connection, with offset -1: acknowledged, nowhere in particular.
		for i, b := range r.batches {
			p.settle(r.parts[i], b)
			for _, rec := range b.records {
				p.completeAt(r.parts[i], rec, journal.Ok, -1, protocol.None, "acks=0: written to the connection", broker, b.firstSent)
			}
		}
		p.freeRequests = append(p.freeRequests, r)
		return true
	}
	p.conns[broker].inflight++
	p.metrics.MaxInFlight = max(p.metrics.MaxInFlight, p.conns[broker].inflight)
	p.requests = append(p.requests, r)
	r.timer = p.SetTimer(p.env, r.gap, node.Timer{Kind: node.TProduceRetry, ID: r.id})
	return true
}

// newRequest returns an empty request to broker, reusing an answered one:
// a request a batch is the producer's busiest allocation.
func (p *Producer) newRequest(broker protocol.BrokerID) *request {
	if n := len(p.freeRequests); n > 0 {
		r := p.freeRequests[n-1]
		p.freeRequests = p.freeRequests[:n-1]
		*r = request{to: broker, batches: r.batches[:0], parts: r.parts[:0]}
		return r
	}
	return &request{to: broker}
}

func (p *Producer) produceRequest(r *request) protocol.ProduceRequest {
	acks := p.cfg.Acks
	if planted.Bugs.AcksOne && acks == config.AcksAll {
		acks = 1
	}
	epoch := p.producerEpoch
	if len(r.batches) > 0 && r.batches[0].baseSeq >= 0 {
		epoch = r.batches[0].epoch
	}
	return protocol.ProduceRequest{RequestID: r.id, Connection: r.conn, Ordinal: r.ordinal, Acks: acks, Timeout: p.cfg.RequestTimeout.Milliseconds(),
		ProducerID: p.producerID, ProducerEpoch: epoch, Partitions: r.msg}
}

// settle takes b out of its partition's in-flight batches.
func (p *Producer) settle(part *producerPartition, b *batch) {
	part.inflight = slices.DeleteFunc(part.inflight, func(x *batch) bool { return x == b })
}

// onRequestTimer re-sends an unanswered request, as TCP would retransmit
// it (the broker answers a request ID once), or gives it up after
// request.timeout.ms: its outcome is unknown.
func (p *Producer) onRequestTimer(tm node.Timer) {
	i := slices.IndexFunc(p.requests, func(r *request) bool { return r.id == tm.ID })
	if i < 0 {
		return
	}
	r := p.requests[i]
	if p.env.Now().Sub(r.sentAt) >= p.cfg.RequestTimeout {
		// request.timeout.ms: Kafka's NetworkClient closes the connection,
		// failing every request in flight on it.
		p.failRequest(r, protocol.RequestTimedOut)
		p.meta.refresh(p.env)
		p.sendAll()
		return
	}
	p.env.Send(p.meta.dir.Node(r.to), p.NewProduceRequest(p.produceRequest(r)))
	r.gap = min(2*r.gap, node.MaxRetransmitGap)
	r.timer = p.SetTimer(p.env, min(r.gap, p.cfg.RequestTimeout-p.env.Now().Sub(r.sentAt)), node.Timer{Kind: node.TProduceRetry, ID: r.id})
}

// endRequest forgets a request that is answered or given up.
func (p *Producer) endRequest(r *request) {
	p.env.CancelTimer(r.timer)
	p.requests = slices.DeleteFunc(p.requests, func(x *request) bool { return x == r })
	p.conns[r.to].inflight--
}

// failRequest settles every batch of a request whose outcome is unknown.
func (p *Producer) failRequest(r *request, err protocol.ErrorCode) {
	p.endRequest(r)
	for i, b := range r.batches {
		p.settle(r.parts[i], b)
		b.maybeAppended, b.lastErr = true, err
		p.retryOrFinish(r.parts[i], b)
	}
	p.freeRequests = append(p.freeRequests, r)
}

func (p *Producer) handleResponse(resp protocol.ProduceResponse) {
	i := slices.IndexFunc(p.requests, func(r *request) bool { return r.id == resp.RequestID })
	if i < 0 {
		return
	}
	r := p.requests[i]
	p.endRequest(r)
	refresh := false
	for j, b := range r.batches {
		part := r.parts[j]
		res := protocol.ProducePartitionResponse{TP: part.tp, Err: protocol.NetworkException, BaseOffset: -1}
		if k := slices.IndexFunc(resp.Partitions, func(x protocol.ProducePartitionResponse) bool { return x.TP == part.tp }); k >= 0 {
			res = resp.Partitions[k]
		}
		p.settle(part, b)
		if res.Err == protocol.None {
			for k, rec := range b.records {
				p.completeAt(part, rec, journal.Ok, res.BaseOffset+int64(k), protocol.None, "", r.to, b.firstSent)
			}
			if b.baseSeq >= 0 {
				part.acked = max(part.acked, b.baseSeq+int32(len(b.records))-1)
			}
			continue
		}
		b.lastErr = res.Err
		if !res.Err.NotAppended() {
			b.maybeAppended = true
		}
		if res.Err == protocol.OutOfOrderSequenceNumber && b.baseSeq == part.acked+1 {
			// A real gap (TransactionManager.canRetry): nothing before
			// this batch is in doubt, yet the broker does not know the
			// sequence. KIP-360: bump the epoch and start the sequences over.
			p.bumpEpoch()
		}
		refresh = refresh || res.Err != protocol.OutOfOrderSequenceNumber
		p.retryOrFinish(part, b)
	}
	p.freeRequests = append(p.freeRequests, r)
	if refresh {
		p.meta.refresh(p.env)
	}
	p.sendAll()
}

// retryOrFinish retries a failed batch after its backoff unless its
// retries or its delivery timeout are spent.
func (p *Producer) retryOrFinish(part *producerPartition, b *batch) {
	deadline := b.records[0].created.Add(p.cfg.DeliveryTimeout)
	backoff := p.backoff(b.attempts)
	if b.attempts > p.cfg.Retries || p.env.Now().Add(backoff) >= deadline {
		p.finish(part, b)
		return
	}
	b.retryAt = p.env.Now().Add(backoff)
	if p.cfg.Idempotence {
		// Back in sequence order (insertInSequenceOrder); a batch whose
		// epoch was bumped away takes new sequences when drained.
		if b.epoch != p.producerEpoch {
			b.baseSeq = -1
		}
		// The order is the order sent: a producer's payloads grow with
		// every record, and survive an epoch bump that resets sequences.
		i := slices.IndexFunc(part.retries, func(x *batch) bool { return x.records[0].payload > b.records[0].payload })
		if i < 0 {
			i = len(part.retries)
		}
		part.retries = slices.Insert(part.retries, i, b)
		p.activate(part)
	} else {
		// addFirst: ahead of what waits, behind what is in flight.
		part.retries = slices.Insert(part.retries, 0, b)
		p.activate(part)
	}
	p.wakeAfter(backoff)
}

// backoff is retry.backoff.ms doubled per attempt to retry.backoff.max.ms,
// with ±20% jitter from the node's stream (KIP-580).
func (p *Producer) backoff(attempts int64) time.Duration {
	d := p.cfg.RetryBackoff
	for i := int64(1); i < attempts && d < p.cfg.RetryBackoffMax; i++ {
		d *= 2
	}
	d = min(d, max(p.cfg.RetryBackoffMax, p.cfg.RetryBackoff))
	jitter := 0.8 + 0.4*p.env.Rand().Float64()
	return time.Duration(float64(d) * jitter)
}

// bumpEpoch is KIP-360's recovery from a sequence the producer cannot
// resolve: the epoch goes up by one and every partition's sequences start
// over; batches not yet acknowledged take new ones when next drained.
func (p *Producer) bumpEpoch() {
	p.producerEpoch++
	for _, part := range p.parts {
		part.nextSeq, part.acked, part.unresolved = 0, -1, false
		for _, b := range part.retries {
			b.baseSeq = -1
		}
	}
}

// finish gives a batch up: fail if no attempt can have written it, info
// otherwise — and, with idempotence, a batch sent and given up leaves its
// sequence unresolved (maybeResolve).
func (p *Producer) finish(part *producerPartition, b *batch) {
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
	if p.cfg.Idempotence && b.attempts > 0 && b.baseSeq >= 0 && b.epoch == p.producerEpoch {
		part.unresolved = true
		p.activate(part)
	}
}

// expire gives up what waited past delivery.timeout.ms without being in
// flight: records never sent fail, retried batches end as they stand.
func (p *Producer) expire(part *producerPartition, now clock.Time) {
	for len(part.retries) > 0 && now.Sub(part.retries[0].records[0].created) >= p.cfg.DeliveryTimeout {
		b := part.retries[0]
		part.retries = part.retries[1:]
		p.finish(part, b)
	}
	n := 0
	for n < len(part.queue) && now.Sub(part.queue[n].created) >= p.cfg.DeliveryTimeout {
		n++
	}
	for _, rec := range part.queue[:n] {
		p.complete(part, rec, journal.Fail, -1, protocol.None, "delivery.timeout.ms expired before sending")
	}
	part.queue = part.queue[n:]
}

// armWake sets the sender's wake-up for the earliest moment something
// becomes ready without an event: a batch lingering out, a backoff ending.
func (p *Producer) armWake(now clock.Time) {
	var at clock.Time
	for _, i := range p.active {
		part := p.parts[i]
		if p.muted(part) || p.connectionFull(part) {
			continue // a response wakes the sender, as Kafka's NetworkClient would
		}
		var t clock.Time
		switch {
		case len(part.retries) > 0:
			t = part.retries[0].retryAt
		case len(part.queue) > 0 && len(part.queue) < p.batchRecords():
			t = part.queue[0].created.Add(p.cfg.Linger)
		default:
			continue
		}
		if t > now && (at == 0 || t < at) {
			at = t
		}
	}
	if at != 0 {
		p.wakeAfter(at.Sub(now))
	}
}

// connectionFull reports whether the connection to part's leader has as
// many requests in flight as it may: its batches wait for an answer, not
// for a timer (Kafka's Sender takes a node that is not ready out of the
// ready check's wake-up).
func (p *Producer) connectionFull(part *producerPartition) bool {
	leader, _ := p.meta.leader(part.tp.Partition)
	return leader != protocol.NoLeader && p.cfg.Acks != 0 && p.conns[leader].inflight >= p.cfg.MaxInFlight
}

// wakeAfter runs the sender again after d, unless it is due sooner.
func (p *Producer) wakeAfter(d time.Duration) {
	at := p.env.Now().Add(d)
	if p.wake != 0 && p.wakeAt <= at {
		return
	}
	p.wake, p.wakeAt = p.meta.newID(), at
	p.SetTimer(p.env, d, node.Timer{Kind: node.TLinger, ID: p.wake})
}
