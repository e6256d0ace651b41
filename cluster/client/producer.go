package client

import (
	"fmt"
	"slices"
	"time"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/node"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/sim"
)

// Producer is a Kafka producer client running a steady workload: rate
// records per second, spread over the topic's partitions in turn. Each send
// is recorded in the history as invoke, then ok, fail or info. Records wait
// in the accumulator (sender.go) and leave in batches, one request per
// broker, as Kafka's RecordAccumulator and Sender send them.
type Producer struct {
	node.Recyclers // of the messages and timers it makes

	index   int
	cfg     config.ProducerConfig
	history *journal.History
	metrics *journal.ProducerMetrics
	env     sim.Env
	meta    metadataView

	conns         []brokerConn // by BrokerID
	producerID    int64
	producerEpoch int16
	pidRequest    uint64
	parts         []*producerPartition
	nextPayload   int64
	turn          int                  // RoundRobinPartitioner's next partition
	sticky        stickyPartition      // the built-in partitioner's
	available     []*producerPartition // the partitions with a known leader (availableParts)
	availableAt   uint64               // meta.changes+1 when available was built; 0: never
	byLeader      [][]int32            // parts' indexes by leader (ledBy)
	active        []int32              // parts' indexes with work, ascending (activate)
	readyBrokers  []protocol.BrokerID  // scratch for sendAll
	ledByAt       uint64               // meta.changes+1 when byLeader was built; 0: never
	batches       node.Arena[batch]
	payloads      node.Arena[int64]
	produceParts  node.Arena[protocol.ProducePartition]
	requests      []*request // in flight, oldest first
	freeRequests  []*request // answered ones, to reuse
	drainFrom     int        // the partition the next drain starts at (round robin)
	wake          uint64     // the sender's wake-up timer token, 0 if none armed
	wakeAt        clock.Time
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
func NewProducer(index int, cfg config.ProducerConfig, dir node.Directory, history *journal.History, metrics *journal.ProducerMetrics) *Producer {
	p := &Producer{index: index, cfg: cfg, history: history, metrics: metrics,
		meta: metadataView{topic: cfg.Topic, dir: dir, retransmit: cfg.Retransmit}}
	p.meta.rec = &p.Recyclers
	return p
}

func (p *Producer) Start(env sim.Env) {
	p.env = env
	p.producerID = -1
	p.buffered, p.blocked = 0, nil
	p.requests, p.drainFrom, p.wake, p.sticky, p.ledByAt, p.active, p.availableAt = nil, 0, 0, stickyPartition{}, 0, nil, 0
	p.parts = make([]*producerPartition, len(p.cfg.PartitionsToProduce))
	for i, n := range p.cfg.PartitionsToProduce {
		p.parts[i] = &producerPartition{tp: protocol.TopicPartition{Topic: p.cfg.Topic, Partition: n}, acked: -1, index: int32(i)}
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
		p.onRequestTimer(tm)
	case node.TLinger:
		if tm.ID == p.wake {
			p.wake = 0
			p.sendAll()
		}
	case node.TConnect:
		p.onConnectTimer(tm)
	}
	p.maybeUnblock()
}

// produceOne is the application calling send() for its next record; it
// reports false when send() blocks for buffer memory.
func (p *Producer) produceOne() bool {
	part := p.partitionFor()
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
	b.rec.created, b.rec.blocked = p.env.Now(), true // its batch (and delivery.timeout.ms) starts now
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
	p.activate(part)
	p.appended(part)
	// KafkaProducer.doSend wakes the sender only when the record started a
	// batch (its linger begins) or filled one: a record joining a batch
	// changes nothing the sender acts on.
	if n := len(part.queue) % p.batchRecords(); n == 0 || n == 1 {
		p.sendAll()
	}
}

func (p *Producer) complete(part *producerPartition, rec pendingRecord, outcome journal.OpType, offset int64, err protocol.ErrorCode, note string) {
	p.completeAt(part, rec, outcome, offset, err, note, protocol.NoLeader, 0)
}

func (p *Producer) completeAt(part *producerPartition, rec pendingRecord, outcome journal.OpType, offset int64, err protocol.ErrorCode, note string, broker protocol.BrokerID, sent clock.Time) {
	p.buffered -= p.cfg.RecordSize // its batch's memory goes back to the pool
	op := journal.Op{Time: p.env.Now(), Process: p.env.Name(), Type: outcome, F: journal.OpSend, TP: part.tp,
		Payload: rec.payload, Offset: offset, Acks: int8(p.cfg.Acks), Err: err, Note: note, Broker: broker, Idempotent: p.cfg.Idempotence, Start: sent}
	if rec.blocked {
		op.Queued = rec.created
	}
	p.history.Add(op)
}

// brokerConn is the producer's connection to one broker, as Kafka's
// NetworkClient keeps it: usable once its ApiVersions request is answered;
// after a reset, a close or a setup timeout it waits reconnect.backoff.ms
// (doubling up to reconnect.backoff.max.ms) before the next attempt.
type brokerConn struct {
	inflight  int    // produce requests in flight on it
	id        uint64 // this connection's identity: a new one after each reconnect
	ordinal   uint64 // the last produce request's place on it
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
			c.id, c.ordinal = p.env.Rand().Uint64(), 0
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
		// Every request in flight on it: outcome unknown, retried.
		for _, r := range slices.Clone(p.requests) {
			if r.to == b {
				p.failRequest(r, protocol.NetworkException)
			}
		}
	}
	p.meta.onReset(p.env, peer)
	p.meta.refresh(p.env)
	p.sendAll()
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
		load := c.inflight
		if bestLoad < 0 || load < bestLoad {
			best, bestLoad = b, load
		}
	}
	p.meta.nextBroker++
	return best
}
