package cluster

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tideline-sim/tideline/cluster/monitor"

	"github.com/tideline-sim/tideline/cluster/metadata"
	"github.com/tideline-sim/tideline/cluster/raft"
	"github.com/tideline-sim/tideline/cluster/storage"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/internal/planted"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/node"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/sim"
)

type role uint8

const (
	roleNone role = iota
	roleLeader
	roleFollower
)

// followerState is what a leader knows of one follower (Kafka's Replica).
type followerState struct {
	broker             protocol.BrokerID
	leo                int64 // -1: unknown since this leadership began
	brokerEpoch        int64
	lastCaughtUp       clock.Time
	lastFetchLeaderLEO int64
	lastFetchTime      clock.Time
	lastRequest        uint64
}

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

// parkedFetch is a fetch held until data arrives or its wait is over.
type parkedFetch struct {
	id    uint64
	from  sim.NodeID
	req   protocol.FetchRequest
	timer sim.TimerID
}

// replica is one broker's replica of one partition.
type replica struct {
	tp    protocol.TopicPartition
	log   *storage.Log
	peers *monitor.Peers // the monitor's live replicas of tp, once it tracks this log
	state protocol.PartitionState
	role  role

	minISR        int
	flushMessages int64
	lazyISR       bool // tideline.isr: lazy

	// As leader.
	followers  []followerState
	pendingISR []protocol.BrokerID // an ISR change in flight to the controller, nil if none
	alterReq   uint64
	purgatory  []delayedProduce
	parked     []parkedFetch

	// As follower: the fetch in flight, or the backoff before the next;
	// epochCheck while the follower has yet to agree epochs with its leader
	// (what protocols before 2.7 did only on becoming a follower).
	fetch      node.Call
	epochCheck bool
}

// view is what the monitor is shown of r.
func (r *replica) view() monitor.Replica {
	return monitor.Replica{TP: r.tp, Log: r.log, Peers: r.peers, Leader: r.role == roleLeader, State: r.state, MinISR: r.minISR}
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

// Broker is a Kafka broker node.
type Broker struct {
	node.Recyclers // of the messages and timers it makes

	id      protocol.BrokerID
	cfg     config.BrokerConfig
	rules   protocol.Rules // the fixes cfg.Protocol lacks
	topics  []config.TopicConfig
	dir     node.Directory
	monitor *monitor.Monitor
	batches node.Arena[protocol.Batch] // the batches this broker appends as leader

	env         sim.Env
	incarnation uint64
	epoch       int64 // broker epoch from the controller; 0 until registered
	// controller is where the broker believes the active controller is;
	// unanswered says its last registration or heartbeat got no answer.
	controller sim.NodeID
	unanswered bool
	retry      time.Duration // backoff before re-asking after NOT_CONTROLLER
	meta       metadataObserver
	image      protocol.Image
	parts      map[protocol.TopicPartition]*replica // looked up; iterate order instead
	order      []*replica                           // sorted by TP
	checkpoint map[protocol.TopicPartition]int64    // HW checkpoint read at boot
	sessions   map[sessionKey]*produceSession
	nextID     uint64
}

// NewBroker returns broker id. Topic configs supply per-topic overrides.
func NewBroker(id protocol.BrokerID, cfg config.BrokerConfig, topics []config.TopicConfig, dir node.Directory, monitor *monitor.Monitor) *Broker {
	return &Broker{id: id, cfg: cfg, rules: cfg.Protocol.Rules(), topics: topics, dir: dir, monitor: monitor}
}

const hwCheckpointFile = "replication-offset-checkpoint"

// controllerRetryMin is the first backoff after NOT_CONTROLLER.
const controllerRetryMin = 100 * time.Millisecond

type hwEntry struct {
	TP protocol.TopicPartition
	HW int64
}

// Start boots the broker: recover every log on disk, then register.
func (b *Broker) Start(env sim.Env) {
	b.env = env
	b.incarnation = env.Rand().Uint64()
	b.controller, b.unanswered = b.dir.Controller, false
	b.meta = metadataObserver{}
	b.parts = map[protocol.TopicPartition]*replica{}
	b.sessions = map[sessionKey]*produceSession{}
	b.checkpoint = map[protocol.TopicPartition]int64{}
	if f := env.Disk().Open(hwCheckpointFile); f.Len() > 0 {
		for _, e := range f.Record(f.Len() - 1).([]hwEntry) {
			b.checkpoint[e.TP] = e.HW
		}
	}
	for _, name := range env.Disk().Files() {
		if tp, ok := parseLogFile(name); ok {
			r := b.replica(tp)
			b.event(journal.Event{Kind: journal.EvRecovered, TP: tp, Offset: r.log.LEO(),
				Detail: fmt.Sprintf("recovered log end %d, hw %d, epochs %v", r.log.LEO(), r.log.HW, r.log.Epochs)})
		}
	}
	b.register()
	if b.observing() {
		b.fetchMetadata()
	}
	b.SetTimer(env, b.cfg.ReplicaLagTimeMax/2, node.Timer{Kind: node.TISRCheck})
	b.SetTimer(env, b.cfg.HWCheckpointInterval, node.Timer{Kind: node.THWCheckpoint})
	if b.cfg.FlushInterval > 0 {
		b.SetTimer(env, b.cfg.FlushInterval, node.Timer{Kind: node.TFlush})
	}
}

func parseLogFile(name string) (protocol.TopicPartition, bool) {
	dir, ok := strings.CutSuffix(name, "/log")
	if !ok {
		return protocol.TopicPartition{}, false
	}
	i := strings.LastIndexByte(dir, '-')
	if i < 0 {
		return protocol.TopicPartition{}, false
	}
	p, err := strconv.Atoi(dir[i+1:])
	if err != nil {
		return protocol.TopicPartition{}, false
	}
	return protocol.TopicPartition{Topic: dir[:i], Partition: int32(p)}, true
}

// replica returns this broker's replica of tp, opening its log on first use.
func (b *Broker) replica(tp protocol.TopicPartition) *replica {
	if r := b.hosted(tp); r != nil {
		return r
	}
	r := &replica{tp: tp, log: storage.Open(b.env.Disk(), tp, b.checkpoint[tp]), minISR: b.cfg.MinInsyncReplicas, flushMessages: b.cfg.FlushIntervalMessages, lazyISR: b.cfg.LazyISR}
	r.state.LeaderEpoch = protocol.NoEpoch
	for _, t := range b.topics {
		if t.Name == tp.Topic {
			if t.MinInsyncReplicas != nil && !planted.Bugs.LoseMinISR {
				r.minISR = *t.MinInsyncReplicas
			}
			if t.FlushMessages != nil {
				r.flushMessages = *t.FlushMessages
			}
		}
	}
	b.parts[tp] = r
	if b.monitor != nil {
		r.peers = b.monitor.Track(b.env.Now(), b.id, r.log)
	}
	i, _ := slices.BinarySearchFunc(b.order, tp, func(x *replica, tp protocol.TopicPartition) int { return x.tp.Compare(tp) })
	b.order = slices.Insert(b.order, i, r)
	return r
}

// hosted returns the broker's replica of tp, nil if it has none. Most
// runs give a broker a few partitions, and every request names one:
// comparing a few beats hashing the topic's name.
func (b *Broker) hosted(tp protocol.TopicPartition) *replica {
	if len(b.order) > 16 {
		return b.parts[tp]
	}
	for _, r := range b.order {
		if r.tp == tp {
			return r
		}
	}
	return nil
}

func (b *Broker) newID() uint64 {
	b.nextID++
	return b.nextID
}

func (b *Broker) register() {
	b.epoch = 0
	b.toController(protocol.BrokerRegistration{Broker: b.id, Incarnation: b.incarnation})
	b.SetTimer(b.env, b.cfg.HeartbeatInterval, node.Timer{Kind: node.TRegister})
}

// toController sends a registration or heartbeat to the active controller
// as the broker knows it; if the last one went unanswered, to the next
// controller (a quorum's leader may have died).
func (b *Broker) toController(m sim.Message) {
	if b.unanswered {
		b.controller = b.dir.NextController(b.controller)
	}
	b.unanswered = true
	b.env.Send(b.controller, m)
}

func (b *Broker) Receive(env sim.Env, from sim.NodeID, msg sim.Message) {
	switch m := msg.(type) {
	case *protocol.ProduceRequest:
		b.handleProduce(from, *m)
	case *protocol.FetchRequest:
		b.handleFetch(from, *m)
	case *protocol.FetchResponse:
		b.handleFetchResponse(*m)
	case protocol.MetadataRequest:
		env.Send(from, protocol.MetadataResponse{RequestID: m.RequestID, Image: b.image})
	case protocol.ApiVersionsRequest:
		env.Send(from, protocol.ApiVersionsResponse(m))
	case node.NotController:
		// Ask the controller it names, or the next one, after a backoff
		// (Kafka's BrokerLifecycleManager: from 100 ms, doubling).
		b.controller = m.Leader
		if m.Leader < 0 {
			b.controller = b.dir.NextController(from)
		}
		b.unanswered = false
		switch m.Request.(type) {
		case protocol.AllocateProducerIDRequest:
			env.Send(b.controller, m.Request)
		case protocol.BrokerRegistration, protocol.BrokerHeartbeat:
			b.retry = min(max(2*b.retry, controllerRetryMin), b.cfg.HeartbeatInterval)
			b.SetTimer(env, b.retry, node.Timer{Kind: node.TControllerRetry})
		}
	case protocol.BrokerRegistrationResponse:
		b.unanswered, b.retry = false, 0
		if m.Incarnation == b.incarnation && b.epoch == 0 && m.Err == protocol.None {
			b.epoch = m.BrokerEpoch
			b.applyImage(m.Image)
			b.SetTimer(env, b.cfg.HeartbeatInterval, node.Timer{Kind: node.THeartbeat})
		}
	case protocol.BrokerHeartbeatResponse:
		b.unanswered, b.retry = false, 0
		if m.Err == protocol.StaleBrokerEpoch && b.epoch != 0 {
			b.register()
			return
		}
		if m.HasImage {
			b.applyImage(m.Image)
		}
	case protocol.UpdateMetadata:
		if b.epoch != 0 {
			b.applyImage(m.Image) // before its registration is answered a broker has no part to play
		}
	case protocol.AlterPartitionResponse:
		b.handleAlterPartitionResponse(m)
	case raft.FetchResponse[metadata.State]:
		b.handleMetadataFetchResponse(from, m)
	case protocol.InitProducerIDRequest:
		env.Send(b.controller, protocol.AllocateProducerIDRequest{Client: int32(from), RequestID: m.RequestID})
	case protocol.AllocateProducerIDResponse:
		env.Send(sim.NodeID(m.Client), protocol.InitProducerIDResponse{RequestID: m.RequestID, ProducerID: m.ProducerID})
	}
}

func (b *Broker) Timer(env sim.Env, t sim.Timer) {
	tm := *t.(*node.Timer)
	switch tm.Kind {
	case node.TRegister:
		if b.epoch == 0 {
			b.register()
		}
	case node.TQuorumFetch:
		b.onMetadataTimer(tm)
	case node.TControllerRetry:
		if b.epoch == 0 {
			b.toController(protocol.BrokerRegistration{Broker: b.id, Incarnation: b.incarnation})
		} else {
			b.toController(protocol.BrokerHeartbeat{Broker: b.id, BrokerEpoch: b.epoch, MetadataVersion: b.image.Version})
		}
	case node.THeartbeat:
		if b.epoch != 0 {
			b.toController(protocol.BrokerHeartbeat{Broker: b.id, BrokerEpoch: b.epoch, MetadataVersion: b.image.Version})
			b.SetTimer(env, b.cfg.HeartbeatInterval, tm)
		}
	case node.TISRCheck:
		for _, r := range b.order {
			b.maybeShrinkISR(r)
		}
		b.SetTimer(env, b.cfg.ReplicaLagTimeMax/2, tm)
	case node.THWCheckpoint:
		b.writeHWCheckpoint()
		b.SetTimer(env, b.cfg.HWCheckpointInterval, tm)
	case node.TFlush:
		for _, r := range b.order {
			r.log.Flush()
		}
		b.SetTimer(env, b.cfg.FlushInterval, tm)
	case node.TFetch:
		if r := b.hosted(tm.TP); r != nil && r.role == roleFollower && r.fetch.OnTimer(&b.Recyclers, env, tm) {
			b.sendFetch(r)
		}
	case node.TFetchExpire:
		if r := b.hosted(tm.TP); r != nil {
			if i := slices.IndexFunc(r.parked, func(p parkedFetch) bool { return p.id == tm.ID }); i >= 0 {
				p := r.parked[i]
				r.parked = slices.Delete(r.parked, i, i+1)
				b.answerFetch(r, p.from, p.req)
			}
		}
	case node.TProduceExpire:
		if r := b.hosted(tm.TP); r != nil {
			if i := slices.IndexFunc(r.purgatory, func(p delayedProduce) bool { return p.id == tm.ID }); i >= 0 {
				p := r.purgatory[i]
				r.purgatory = slices.Delete(r.purgatory, i, i+1)
				b.respondProduce(p.session, p.from, protocol.ProduceResponse{RequestID: p.requestID, TP: r.tp, Err: protocol.RequestTimedOut, BaseOffset: -1})
			}
		}
	case node.TAlterRetry:
		if r := b.hosted(tm.TP); r != nil && r.role == roleLeader && r.pendingISR != nil && r.alterReq == tm.ID {
			b.sendAlterPartition(r)
		}
	}
}

func (b *Broker) writeHWCheckpoint() {
	entries := make([]hwEntry, 0, len(b.order))
	for _, r := range b.order {
		entries = append(entries, hwEntry{r.tp, r.log.HW})
	}
	f := b.env.Disk().Open(hwCheckpointFile)
	f.Truncate(0)
	f.Append(entries)
	f.Sync()
}

// applyImage takes in a newer metadata image and acts on every change to a
// partition this broker replicates.
func (b *Broker) applyImage(img protocol.Image) {
	if img.Version < b.image.Version || (img.Version == b.image.Version && b.image.Partitions != nil) {
		return
	}
	b.image = img
	for _, st := range img.Partitions {
		if slices.Contains(st.Replicas, b.id) {
			b.applyState(b.replica(st.TP), st)
		}
	}
}

func (b *Broker) applyState(r *replica, st protocol.PartitionState) {
	if r.role != roleNone && !st.Newer(r.state) {
		return
	}
	old := r.state
	r.state = st
	if b.monitor != nil {
		b.monitor.Viewed(b.env.Now(), b.id, st)
	}
	switch {
	case st.Leader == b.id && (r.role != roleLeader || st.LeaderEpoch != old.LeaderEpoch):
		b.makeLeader(r)
	case st.Leader == b.id:
		// The same leadership with a committed ISR change: whatever was in
		// flight is settled, one way or the other.
		r.pendingISR, r.alterReq = nil, 0
		b.maybeIncrementHW(r)
	case r.role != roleFollower || st.LeaderEpoch != old.LeaderEpoch:
		b.makeFollower(r)
	}
}

func (b *Broker) makeLeader(r *replica) {
	b.abandonRequests(r)
	r.role = roleLeader
	r.fetch.Cancel(b.env)
	r.log.AssignEpoch(r.state.LeaderEpoch, r.log.LEO())
	r.followers = r.followers[:0]
	for _, id := range r.state.Replicas {
		if id == b.id {
			continue
		}
		fs := followerState{broker: id, leo: -1}
		if r.state.InISR(id) {
			fs.lastCaughtUp = b.env.Now()
		}
		r.followers = append(r.followers, fs)
	}
	r.pendingISR, r.alterReq = nil, 0
	b.event(journal.Event{Kind: journal.EvBecameLeader, TP: r.tp, Epoch: r.state.LeaderEpoch, Offset: r.log.LEO(), Broker: b.id, Leader: b.id,
		Detail: fmt.Sprintf("leader at epoch %d with log end %d, hw %d, isr %v", r.state.LeaderEpoch, r.log.LEO(), r.log.HW, r.state.ISR)})
	b.maybeIncrementHW(r)
}

func (b *Broker) makeFollower(r *replica) {
	b.abandonRequests(r)
	r.role = roleFollower
	r.followers = r.followers[:0]
	r.pendingISR, r.alterReq = nil, 0
	r.epochCheck = true
	b.event(journal.Event{Kind: journal.EvBecameFollower, TP: r.tp, Epoch: r.state.LeaderEpoch, Offset: r.log.LEO(), Broker: b.id, Leader: r.state.Leader,
		Detail: fmt.Sprintf("follower of %d at epoch %d with log end %d, hw %d", r.state.Leader, r.state.LeaderEpoch, r.log.LEO(), r.log.HW)})
	if b.rules.HWTruncation {
		// Before KIP-101 a new follower cut its log back to its own high
		// watermark — which may lag the leader's and so drop records that
		// were already committed.
		b.truncate(r, r.log.HW, "to its high watermark (pre-KIP-101)")
	}
	b.sendFetch(r)
}

// abandonRequests answers everything parked on a replica that is no
// longer leader at this epoch. The records of abandoned produces stay in
// the log and may yet commit; the producer cannot know.
func (b *Broker) abandonRequests(r *replica) {
	for _, p := range r.purgatory {
		b.env.CancelTimer(p.timer)
		b.respondProduce(p.session, p.from, protocol.ProduceResponse{RequestID: p.requestID, TP: r.tp, Err: protocol.NotLeaderOrFollower, BaseOffset: -1})
	}
	r.purgatory = r.purgatory[:0]
	for _, p := range r.parked {
		b.env.CancelTimer(p.timer)
		b.env.Send(p.from, b.NewFetchResponse(protocol.FetchResponse{RequestID: p.req.RequestID, TP: r.tp, Err: protocol.NotLeaderOrFollower, DivergingEpoch: protocol.NoEpoch}))
	}
	r.parked = r.parked[:0]
}

func (b *Broker) truncate(r *replica, offset int64, why string) {
	if offset >= r.log.LEO() {
		return
	}
	from := r.log.LEO()
	if b.monitor != nil {
		b.monitor.TruncatedTo(b.env.Now(), b.id, r.view(), offset)
	}
	r.log.Truncate(offset)
	b.event(journal.Event{Kind: journal.EvTruncated, TP: r.tp, Epoch: r.state.LeaderEpoch, Offset: offset, Broker: b.id,
		Detail: fmt.Sprintf("truncated its log from %d to %d, %s", from, offset, why)})
}

func (b *Broker) event(e journal.Event) {
	e.Time, e.Node = b.env.Now(), b.env.Name()
	if b.monitor != nil {
		b.monitor.Add(e)
	}
}

// ---- follower side ----

// sendFetch sends the next fetch to the leader, re-sent until answered.
func (b *Broker) sendFetch(r *replica) {
	if r.role != roleFollower || r.state.Leader == protocol.NoLeader || b.epoch == 0 {
		r.fetch.Cancel(b.env)
		if r.role == roleFollower {
			b.fetchLater(r, b.cfg.ReplicaFetchBackoff)
		}
		return
	}
	last := r.log.LatestEpoch()
	if b.rules.HWTruncation || b.rules.NoTruncateOnFetch && !r.epochCheck {
		// Before 2.7 a follower compared epochs with its leader only when
		// it became a follower (OffsetsForLeaderEpoch); its fetches named
		// no last fetched epoch, so nothing checked them later.
		last = protocol.NoEpoch
	}
	id := b.newID()
	req := protocol.FetchRequest{
		RequestID: id, ReplicaID: b.id, BrokerEpoch: b.epoch, TP: r.tp,
		CurrentLeaderEpoch: r.state.LeaderEpoch, FetchOffset: r.log.LEO(), LastFetchedEpoch: last,
		MaxWaitMs: b.cfg.ReplicaFetchWaitMax.Milliseconds(), MaxRecords: int(max(1, b.cfg.ReplicaFetchMaxBytes/b.cfg.RecordSize)),
	}
	r.fetch.Send(&b.Recyclers, b.env, id, b.dir.Node(r.state.Leader), b.NewFetchRequest(req), b.cfg.Retransmit, node.Timer{Kind: node.TFetch, TP: r.tp})
}

// fetchLater schedules the next fetch after a backoff.
func (b *Broker) fetchLater(r *replica, after time.Duration) {
	r.fetch.Backoff(&b.Recyclers, b.env, b.newID(), after, node.Timer{Kind: node.TFetch, TP: r.tp})
}

func (b *Broker) handleFetchResponse(m protocol.FetchResponse) {
	r := b.hosted(m.TP)
	if r == nil || r.role != roleFollower {
		return
	}
	if _, ok := r.fetch.Answered(b.env, m.RequestID); !ok {
		return // an answer to a fetch already given up on
	}
	switch {
	case m.Err == protocol.None && m.DivergingEpoch != protocol.NoEpoch:
		b.event(journal.Event{Kind: journal.EvDiverged, TP: r.tp, Epoch: m.DivergingEpoch, Offset: m.DivergingEndOffset, Broker: b.id, Leader: r.state.Leader,
			Detail: fmt.Sprintf("leader %d says epoch %d ends at %d; log end %d, hw %d", r.state.Leader, m.DivergingEpoch, m.DivergingEndOffset, r.log.LEO(), r.log.HW)})
		b.truncateOnDivergence(r, m.DivergingEpoch, m.DivergingEndOffset)
		if b.rules.SingleRoundEpoch {
			r.epochCheck = false // before KIP-279: one round, whatever it left
		}
		b.sendFetch(r)
	case m.Err == protocol.None:
		r.epochCheck = false // the logs agree: fetch on
		b.appendAsFollower(r, m)
		b.sendFetch(r)
	case m.Err == protocol.OffsetOutOfRange && m.LogEndOffset < r.log.LEO():
		b.truncate(r, m.LogEndOffset, "to the leader's log end (offset out of range)")
		b.sendFetch(r)
	default:
		b.fetchLater(r, b.cfg.ReplicaFetchBackoff)
	}
}

func (b *Broker) appendAsFollower(r *replica, m protocol.FetchResponse) {
	batches := m.Batches
	if len(batches) > 0 && batches[0].BaseOffset != r.log.LEO() {
		batches = nil // a response to an older fetch offset; fetch again from the end
	}
	for _, batch := range batches {
		r.log.Append(batch)
	}
	if r.log.Unflushed >= r.flushMessages {
		r.log.Flush()
	}
	hw := min(m.HighWatermark, r.log.LEO())
	if planted.Bugs.HWPastLEO {
		hw = m.HighWatermark
	}
	if hw > r.log.HW {
		b.setHW(r, hw)
	}
}

// truncateOnDivergence is Kafka's truncate-on-fetch (KIP-320, after
// KIP-101/279): find this log's end offset for the leader's diverging epoch
// and cut there, or, if this log lacks that epoch, cut to its own end of the
// largest lower epoch and ask again.
func (b *Broker) truncateOnDivergence(r *replica, leaderEpoch int32, leaderEnd int64) {
	if planted.Bugs.SkipTruncation {
		return
	}
	localEpoch, localEnd := r.log.EndOffsetForEpoch(leaderEpoch)
	leo := r.log.LEO()
	var to int64
	switch {
	case b.rules.SingleRoundEpoch:
		// Before KIP-279 the answer named no epoch: the follower cut to
		// the leader's end offset, even where its own records there came
		// from another epoch.
		to = min(leaderEnd, leo)
	case localEnd < 0:
		to = min(leaderEnd, leo)
	case localEpoch != leaderEpoch:
		to = min(localEnd, leo)
	default:
		to = min(localEnd, leaderEnd, leo)
	}
	b.truncate(r, to, fmt.Sprintf("where epoch %d ends on the leader (%d)", leaderEpoch, leaderEnd))
}

// ---- leader side ----

func (b *Broker) handleFetch(from sim.NodeID, m protocol.FetchRequest) {
	if planted.Bugs.PanicOnFetch && m.ReplicaID >= 0 {
		var missing *replica
		_ = missing.log.LEO() // the planted bug: a replica looked up and never found
	}
	if b.rules.NoFetchEpoch {
		m.CurrentLeaderEpoch = protocol.NoEpoch // before KIP-320 a fetch named no epoch to fence
	}
	r := b.hosted(m.TP)
	errResp := func(err protocol.ErrorCode) {
		resp := protocol.FetchResponse{RequestID: m.RequestID, TP: m.TP, Err: err, HighWatermark: -1, LogEndOffset: -1, DivergingEpoch: protocol.NoEpoch}
		if r != nil {
			resp.LogEndOffset = r.log.LEO()
		}
		b.env.Send(from, b.NewFetchResponse(resp))
	}
	switch {
	case r == nil:
		errResp(protocol.UnknownTopicOrPartition)
		return
	case r.role != roleLeader:
		errResp(protocol.NotLeaderOrFollower)
		return
	case m.CurrentLeaderEpoch != protocol.NoEpoch && m.CurrentLeaderEpoch < r.state.LeaderEpoch:
		b.event(journal.Event{Kind: journal.EvFencedRequest, TP: r.tp, Epoch: m.CurrentLeaderEpoch, Broker: m.ReplicaID,
			Detail: fmt.Sprintf("fetch at epoch %d fenced by epoch %d", m.CurrentLeaderEpoch, r.state.LeaderEpoch)})
		errResp(protocol.FencedLeaderEpoch)
		return
	case m.CurrentLeaderEpoch > r.state.LeaderEpoch:
		errResp(protocol.UnknownLeaderEpoch)
		return
	}
	if slices.ContainsFunc(r.parked, func(p parkedFetch) bool { return p.from == from && p.req.RequestID == m.RequestID }) {
		return // a re-sent fetch that is already waiting here
	}
	if m.ReplicaID < 0 {
		if m.FetchOffset > r.log.LEO() {
			errResp(protocol.OffsetOutOfRange)
			return
		}
		b.answerOrPark(r, from, m, m.FetchOffset < r.log.HW)
		return
	}
	fi := slices.IndexFunc(r.followers, func(f followerState) bool { return f.broker == m.ReplicaID })
	if fi < 0 {
		errResp(protocol.NotLeaderOrFollower)
		return
	}
	fs := &r.followers[fi]
	if m.BrokerEpoch == fs.brokerEpoch && m.RequestID < fs.lastRequest {
		return // overtaken by a newer fetch from the same follower incarnation
	}
	fs.lastRequest = m.RequestID
	// Divergence first, then the offset range, as Kafka's
	// Partition.readRecords: a follower whose divergent suffix runs past
	// this log's end must learn where to truncate, not that it is out of
	// range.
	if m.LastFetchedEpoch != protocol.NoEpoch {
		epoch, end := r.log.EndOffsetForEpoch(m.LastFetchedEpoch)
		if epoch < m.LastFetchedEpoch || end < m.FetchOffset {
			b.env.Send(from, b.NewFetchResponse(protocol.FetchResponse{RequestID: m.RequestID, TP: r.tp, HighWatermark: r.log.HW, LogEndOffset: r.log.LEO(),
				LeaderEpoch: r.state.LeaderEpoch, DivergingEpoch: epoch, DivergingEndOffset: end}))
			return
		}
	}
	if m.FetchOffset > r.log.LEO() {
		errResp(protocol.OffsetOutOfRange)
		return
	}
	b.updateFollower(r, fs, m)
	if b.monitor != nil {
		b.monitor.FollowerFetched(r.tp, m.ReplicaID, m.CurrentLeaderEpoch)
	}
	b.maybeExpandISR(r, fs)
	b.maybeIncrementHW(r)
	b.answerOrPark(r, from, m, m.FetchOffset < r.log.LEO())
}

// updateFollower records a follower's fetch position, and when it counts as
// caught up, as Kafka's Replica.updateFetchState does.
func (b *Broker) updateFollower(r *replica, fs *followerState, m protocol.FetchRequest) {
	now, leo := b.env.Now(), r.log.LEO()
	switch {
	case m.FetchOffset >= leo:
		fs.lastCaughtUp = max(fs.lastCaughtUp, now)
	case m.FetchOffset >= fs.lastFetchLeaderLEO:
		fs.lastCaughtUp = max(fs.lastCaughtUp, fs.lastFetchTime)
	}
	fs.leo = m.FetchOffset
	fs.brokerEpoch = m.BrokerEpoch
	fs.lastFetchLeaderLEO = leo
	fs.lastFetchTime = now
}

func (b *Broker) answerOrPark(r *replica, from sim.NodeID, m protocol.FetchRequest, ready bool) {
	if ready || m.MaxWaitMs <= 0 {
		b.answerFetch(r, from, m)
		return
	}
	id := b.newID()
	t := b.SetTimer(b.env, time.Duration(m.MaxWaitMs)*time.Millisecond, node.Timer{Kind: node.TFetchExpire, TP: r.tp, ID: id})
	r.parked = append(r.parked, parkedFetch{id: id, from: from, req: m, timer: t})
}

// answerFetch sends what is readable now: up to the log end for followers,
// up to the high watermark for consumers.
func (b *Broker) answerFetch(r *replica, from sim.NodeID, m protocol.FetchRequest) {
	upTo := r.log.LEO()
	if m.ReplicaID < 0 {
		upTo = r.log.HW
	}
	b.env.Send(from, b.NewFetchResponse(protocol.FetchResponse{
		RequestID: m.RequestID, TP: r.tp, HighWatermark: r.log.HW, LogEndOffset: r.log.LEO(),
		LeaderEpoch: r.state.LeaderEpoch, Batches: r.log.Read(m.FetchOffset, upTo, m.MaxRecords), DivergingEpoch: protocol.NoEpoch,
	}))
}

// wakeParked answers parked fetches that can now make progress.
func (b *Broker) wakeParked(r *replica) {
	kept := r.parked[:0]
	for _, p := range r.parked {
		ready := p.req.FetchOffset < r.log.LEO()
		if p.req.ReplicaID < 0 {
			ready = p.req.FetchOffset < r.log.HW
		}
		if ready {
			b.env.CancelTimer(p.timer)
			b.answerFetch(r, p.from, p.req)
		} else {
			kept = append(kept, p)
		}
	}
	r.parked = kept
}

// setHW moves a replica's high watermark, samples it for the reports and
// has the journal check the replicas still agree below it.
func (b *Broker) setHW(r *replica, hw int64) {
	r.log.HW = hw
	if b.monitor != nil {
		b.monitor.AddHW(journal.HWSample{Time: b.env.Now(), Broker: b.id, TP: r.tp, HW: hw})
		b.monitor.HWSet(b.env.Now(), b.id, r.view())
	}
}

// ackAll records the completion of an acks=all produce, for the
// leader-uniqueness checker.
func (b *Broker) ackAll(r *replica, base, last int64) {
	if b.monitor != nil {
		b.monitor.Ack(journal.AckSample{Time: b.env.Now(), Broker: b.id, TP: r.tp, Epoch: r.state.LeaderEpoch, Offset: base})
		b.monitor.AckedAll(b.env.Now(), b.id, r.view(), base, last)
	}
}

// maximalISR is the ISR plus any change still in flight (KIP-497): the
// leader counts a follower it proposed to add at once, and keeps counting
// one it proposed to remove until the controller agrees.
func (r *replica) maximalISR() []protocol.BrokerID {
	if r.pendingISR == nil || r.lazyISR {
		// (tideline.isr: lazy counts the committed ISR alone, the design
		// KIP-497 rejected: a member joins the HW only once committed.)
		return r.state.ISR
	}
	isr := slices.Clone(r.state.ISR)
	for _, id := range r.pendingISR {
		if !slices.Contains(isr, id) {
			isr = append(isr, id)
		}
	}
	return isr
}

func (r *replica) follower(id protocol.BrokerID) *followerState {
	for i := range r.followers {
		if r.followers[i].broker == id {
			return &r.followers[i]
		}
	}
	return nil
}

// maybeIncrementHW moves the high watermark to the smallest log end of the
// maximal ISR — never while the ISR is below min.insync.replicas (Kafka
// 3.7+, KAFKA-15583), and never backwards.
func (b *Broker) maybeIncrementHW(r *replica) {
	belowMinISR := len(r.state.ISR) < min(r.minISR, len(r.state.Replicas)) && !b.rules.HWBelowMinISR
	if r.role != roleLeader || belowMinISR && !planted.Bugs.IgnoreMinISR {
		return
	}
	hw := r.log.LEO()
	isr := r.maximalISR()
	for i, id := range isr {
		if id == b.id || planted.Bugs.HWSkipsFollower && i == len(isr)-1 {
			continue
		}
		fs := r.follower(id)
		if fs == nil {
			return
		}
		hw = min(hw, fs.leo)
	}
	if hw <= r.log.HW {
		return
	}
	b.setHW(r, hw)
	b.completeDelayedProduces(r)
	b.wakeParked(r)
}

func (b *Broker) maybeExpandISR(r *replica, fs *followerState) {
	if r.pendingISR != nil || r.state.InISR(fs.broker) {
		return
	}
	caughtUp := fs.leo >= r.log.HW
	if planted.Bugs.AdmitLagging {
		caughtUp = fs.leo+1000 >= r.log.HW
	}
	if caughtUp && fs.leo >= r.log.EpochStart() && (b.rules.NoBrokerEpochISR || b.isrEligible(fs)) {
		isr := slices.Clone(r.state.ISR)
		isr = append(isr, fs.broker)
		b.proposeISR(r, b.inAssignmentOrder(r, isr))
	}
}

// isrEligible is Kafka's Partition.isReplicaIsrEligible (KIP-903): the
// follower is unfenced in this broker's metadata, and the broker epoch it
// fetched with is its current one. Proposing anyone else would only be
// refused with INELIGIBLE_REPLICA, again at every fetch.
func (b *Broker) isrEligible(fs *followerState) bool {
	if int(fs.broker) >= len(b.image.Brokers) {
		return fs.brokerEpoch > 0
	}
	reg := b.image.Brokers[fs.broker]
	return !reg.Fenced && fs.brokerEpoch > 0 && fs.brokerEpoch == reg.Epoch
}

func (b *Broker) maybeShrinkISR(r *replica) {
	if r.role != roleLeader || r.pendingISR != nil {
		return
	}
	now, leo := b.env.Now(), r.log.LEO()
	isr := slices.DeleteFunc(slices.Clone(r.state.ISR), func(id protocol.BrokerID) bool {
		if id == b.id {
			return false
		}
		fs := r.follower(id)
		return fs == nil || (fs.leo != leo && now.Sub(fs.lastCaughtUp) > b.cfg.ReplicaLagTimeMax)
	})
	if len(isr) < len(r.state.ISR) {
		b.proposeISR(r, isr)
	}
}

func (b *Broker) inAssignmentOrder(r *replica, isr []protocol.BrokerID) []protocol.BrokerID {
	out := make([]protocol.BrokerID, 0, len(isr))
	for _, id := range r.state.Replicas {
		if slices.Contains(isr, id) {
			out = append(out, id)
		}
	}
	return out
}

func (b *Broker) proposeISR(r *replica, isr []protocol.BrokerID) {
	r.pendingISR = isr
	b.sendAlterPartition(r)
}

func (b *Broker) sendAlterPartition(r *replica) {
	r.alterReq = b.newID()
	epochs := make([]int64, len(r.pendingISR))
	for i, id := range r.pendingISR {
		switch fs := r.follower(id); {
		case b.rules.NoBrokerEpochISR:
			epochs[i] = -1 // before KIP-903: no epoch, no check
		case id == b.id:
			epochs[i] = b.epoch
		case fs != nil:
			epochs[i] = fs.brokerEpoch
		}
	}
	b.env.Send(b.controller, protocol.AlterPartitionRequest{
		RequestID: r.alterReq, Broker: b.id, BrokerEpoch: b.epoch, TP: r.tp,
		LeaderEpoch: r.state.LeaderEpoch, PartitionEpoch: r.state.PartitionEpoch,
		NewISR: slices.Clone(r.pendingISR), ISREpochs: epochs,
	})
	b.SetTimer(b.env, b.cfg.Retransmit, node.Timer{Kind: node.TAlterRetry, TP: r.tp, ID: r.alterReq})
}

func (b *Broker) handleAlterPartitionResponse(m protocol.AlterPartitionResponse) {
	r := b.hosted(m.TP)
	if r == nil || r.alterReq != m.RequestID {
		return
	}
	r.pendingISR, r.alterReq = nil, 0
	if m.Err == protocol.None {
		b.applyState(r, m.State)
	}
	b.maybeIncrementHW(r)
}

func (b *Broker) handleProduce(from sim.NodeID, m protocol.ProduceRequest) {
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

// HighWatermark returns the broker's high watermark of tp.
func (b *Broker) HighWatermark(tp protocol.TopicPartition) int64 {
	if r := b.hosted(tp); r != nil {
		return r.log.HW
	}
	return 0
}
