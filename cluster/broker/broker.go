// Package broker is a Kafka broker (Kafka's KafkaServer with its
// ReplicaManager): it registers and heartbeats to the controller, follows
// the metadata log as an observer, and hosts one replica per partition it
// is assigned — as leader it appends produce requests, serves fetches
// (fetch.go: its followers' in KIP-227 sessions, consumers' one partition
// at a time), moves the high watermark and proposes ISR changes
// (partition.go, Kafka's Partition); as follower it fetches from each
// leader broker in one session and truncates on divergence (fetcher.go,
// Kafka's ReplicaFetcherThread); it answers producers with
// their sessions and delayed acks=all requests (produce.go). Logs live in
// storage; it reports to the monitor and imports no controller or client.
package broker

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/group"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/metadata"
	"github.com/tideline-sim/tideline/cluster/monitor"
	"github.com/tideline-sim/tideline/cluster/node"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/cluster/raft"
	"github.com/tideline-sim/tideline/sim"
)

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
	controller     sim.NodeID
	unanswered     bool
	retry          time.Duration // backoff before re-asking after NOT_CONTROLLER
	meta           metadataObserver
	image          protocol.Image
	parts          map[protocol.TopicPartition]*replica // looked up; iterate order instead
	order          []*replica                           // sorted by TP
	checkpoint     map[protocol.TopicPartition]int64    // HW checkpoint read at boot
	fetchers       []*fetcher                           // as follower: by leader broker
	fetchSessions  []*fetchSession                      // as leader: by follower broker
	woken          []*fetchSession                      // parked session fetches to answer after the event in hand
	sessions       map[sim.NodeID]*produceSession       // by client: looked up, never iterated
	unmuted        []sim.NodeID                         // sessions whose connection an event unmuted
	delayed        []*delayedProduce                    // acks=all produces waiting, oldest first
	freeDelayed    []*delayedProduce                    // answered ones, to reuse
	produceResults node.Arena[protocol.ProducePartitionResponse]
	nextID         uint64
	// previousEpoch is the broker epoch the clean-shutdown marker held at
	// start, -1 if the last stop was unclean; stopping: the process was
	// told to terminate, and is on its way to an orderly stop.
	previousEpoch int64
	stopping      bool
	// The replication throttles of a reassignment's new replicas.
	leaderThrottle, followerThrottle throttle
	// coord is the group coordinator of the offsets partitions it leads.
	coord *group.Coordinator
}

// NewBroker returns broker id. Topic configs supply per-topic overrides.
func New(id protocol.BrokerID, cfg config.BrokerConfig, topics []config.TopicConfig, dir node.Directory, monitor *monitor.Monitor) *Broker {
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
	b.sessions = map[sim.NodeID]*produceSession{}
	b.delayed, b.freeDelayed = nil, nil
	b.checkpoint = map[protocol.TopicPartition]int64{}
	b.fetchers, b.fetchSessions, b.woken = nil, nil, nil
	b.leaderThrottle = throttle{rate: b.cfg.LeaderThrottle, at: env.Now()}
	b.followerThrottle = throttle{rate: b.cfg.FollowerThrottle, at: env.Now()}
	b.coord = group.New(b.cfg.Group, b, &b.Recyclers, env)
	b.previousEpoch = b.readCleanShutdown()
	if b.previousEpoch >= 0 {
		b.event(journal.Event{Kind: journal.EvCleanStart, Broker: b.id, Leader: protocol.NoLeader,
			Detail: fmt.Sprintf("broker %d starts clean: its logs were flushed and closed at broker epoch %d, no recovery", b.id, b.previousEpoch)})
	}
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
	b.toController(b.registration())
	b.SetTimer(b.env, b.cfg.HeartbeatInterval, node.Timer{Kind: node.TRegister})
}

func (b *Broker) registration() protocol.BrokerRegistration {
	return protocol.BrokerRegistration{Broker: b.id, Incarnation: b.incarnation, PreviousBrokerEpoch: b.previousEpoch}
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
	defer b.afterEvent()
	switch m := msg.(type) {
	case *protocol.ProduceRequest:
		b.handleProduce(from, *m)
	case *protocol.FetchRequest:
		b.handleFetch(from, *m)
	case *protocol.ReplicaFetchRequest:
		b.handleReplicaFetch(from, m)
	case *protocol.ReplicaFetchResponse:
		b.handleReplicaFetchResponse(from, m)
	case protocol.MetadataRequest:
		env.Send(from, protocol.MetadataResponse{RequestID: m.RequestID, Image: b.image})
	case protocol.ApiVersionsRequest:
		env.Send(from, protocol.ApiVersionsResponse(m))
	case protocol.FindCoordinatorRequest:
		b.findCoordinator(from, m)
	case protocol.ListOffsetsRequest:
		b.listOffsets(from, m)
	case protocol.OffsetsForLeaderEpochRequest:
		b.offsetsForLeaderEpoch(from, m)
	case protocol.JoinGroupRequest, protocol.SyncGroupRequest, protocol.HeartbeatRequest, protocol.LeaveGroupRequest,
		protocol.OffsetCommitRequest, protocol.OffsetFetchRequest:
		b.coord.Handle(from, m)
	case node.Terminate:
		b.terminate()
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
		if b.stopping && m.ShouldShutDown {
			b.stop(false)
			return
		}
		if m.Err == protocol.StaleBrokerEpoch && b.epoch != 0 {
			if b.stopping {
				b.stop(false) // no longer registered: nothing to hand away
				return
			}
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
	defer b.afterEvent()
	tm := *t.(*node.Timer)
	if b.coord.Timer(tm) {
		return
	}
	switch tm.Kind {
	case node.TRegister:
		if b.epoch == 0 {
			b.register()
		}
	case node.TQuorumFetch:
		b.onMetadataTimer(tm)
	case node.TControllerRetry:
		if b.epoch == 0 {
			b.toController(b.registration())
		} else {
			b.heartbeat()
		}
	case node.THeartbeat:
		if b.epoch != 0 {
			b.heartbeat()
			b.SetTimer(env, b.cfg.HeartbeatInterval, tm)
		}
	case node.TShutdownHeartbeat:
		if b.epoch != 0 {
			b.heartbeat()
		}
	case node.TShutdown:
		if b.stopping {
			b.stop(true)
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
	case node.TReplicaFetch:
		if int(tm.Broker) < len(b.fetchers) {
			if f := b.fetchers[tm.Broker]; f != nil && f.call.OnTimer(&b.Recyclers, env, tm) {
				b.sendReplicaFetch(f)
			}
		}
	case node.TFetchSessionExpire:
		b.onSessionExpire(tm)
	case node.TFetchExpire:
		if r := b.hosted(tm.TP); r != nil {
			if i := slices.IndexFunc(r.parked, func(p parkedFetch) bool { return p.id == tm.ID }); i >= 0 {
				p := r.parked[i]
				r.parked = slices.Delete(r.parked, i, i+1)
				b.answerFetch(r, p.from, p.req)
			}
		}
	case node.TProduceExpire:
		b.expireDelayedProduce(tm.ID)
	case node.TAlterRetry:
		if r := b.hosted(tm.TP); r != nil && r.role == roleLeader && r.pendingISR != nil && r.alterReq == tm.ID {
			b.sendAlterPartition(r)
		}
	}
}

// afterEvent completes what an event's handling deferred: the produce
// requests its answers unmuted, then the fetches its appends woke.
func (b *Broker) afterEvent() {
	b.resumeSessions()
	b.answerWoken()
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
// partition this broker replicates. It looks only at what changed since
// the image it last applied (Kafka's MetadataDelta), so an image costs a
// broker what changed, not the cluster's size.
func (b *Broker) applyImage(img protocol.Image) {
	if img.Version < b.image.Version || (img.Version == b.image.Version && !b.image.Partitions.IsZero()) {
		return
	}
	old := b.image
	b.image = img
	for _, st := range img.Partitions.ChangedSince(&old.Partitions) {
		if slices.Contains(st.Replicas, b.id) {
			b.applyState(b.replica(st.TP), st)
		} else if r := b.hosted(st.TP); r != nil && st.Newer(r.state) {
			// Reassigned away: stop the replica and delete its log
			// (ReplicaManager's stopPartitions).
			b.deleteReplica(r)
		}
	}
}

// deleteReplica stops a replica and deletes its log.
func (b *Broker) deleteReplica(r *replica) {
	b.abandonRequests(r)
	if r.tp.Topic == protocol.OffsetsTopic {
		b.coord.Unload(r.tp.Partition)
	}
	b.unfollow(r)
	r.deleted = true
	r.log.Delete(b.env.Disk())
	if b.monitor != nil {
		b.monitor.Untrack(b.id, r.tp)
	}
	delete(b.parts, r.tp)
	b.order = slices.DeleteFunc(b.order, func(x *replica) bool { return x == r })
	b.event(journal.Event{Kind: journal.EvReplicaDeleted, TP: r.tp, Broker: b.id, Leader: protocol.NoLeader,
		Detail: fmt.Sprintf("broker %d no longer hosts %v: its replica is stopped and its log deleted", b.id, r.tp)})
}

func (b *Broker) event(e journal.Event) {
	e.Time, e.Node = b.env.Now(), b.env.Name()
	if b.monitor != nil {
		b.monitor.Add(e)
	}
}

// ---- follower side ----

// HighWatermark returns the broker's high watermark of tp.
func (b *Broker) HighWatermark(tp protocol.TopicPartition) int64 {
	if r := b.hosted(tp); r != nil {
		return r.log.HW
	}
	return 0
}
