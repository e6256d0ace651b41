package broker

import (
	"fmt"
	"slices"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster/internal/planted"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/monitor"
	"github.com/tideline-sim/tideline/cluster/node"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/cluster/storage"
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
	session            uint64 // the serial of the fetch session that holds this partition, 0 if none
	shown              bool   // the monitor was told of a fetch at shownEpoch or later
	shownEpoch         int32
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
	purgatory  []*delayedProduce // acks=all produces waiting on this partition
	parked     []parkedFetch

	// As follower: the leader broker whose fetcher fetches it (NoLeader:
	// none), the end of an error's backoff, and epochCheck while the
	// follower has yet to agree epochs with its leader (what protocols
	// before 2.7 did only on becoming a follower).
	fetchingFrom      protocol.BrokerID
	fetchDelayedUntil clock.Time
	epochCheck        bool
	deleted           bool // its log is deleted: a fetch session's pointer to it is stale
}

// view is what the monitor is shown of r.
func (r *replica) view() *monitor.Replica {
	return &monitor.Replica{TP: r.tp, Log: r.log, Peers: r.peers, Leader: r.role == roleLeader, State: &r.state, MinISR: r.minISR}
}

// replica returns this broker's replica of tp, opening its log on first use.
func (b *Broker) replica(tp protocol.TopicPartition) *replica {
	if r := b.hosted(tp); r != nil {
		return r
	}
	r := &replica{tp: tp, log: storage.Open(b.env.Disk(), tp, b.checkpoint[tp]), minISR: b.cfg.MinInsyncReplicas, flushMessages: b.cfg.FlushIntervalMessages, lazyISR: b.cfg.LazyISR}
	r.state.LeaderEpoch, r.fetchingFrom = protocol.NoEpoch, protocol.NoLeader
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
		// flight is settled, one way or the other. A reassignment may have
		// added followers.
		r.pendingISR, r.alterReq = nil, 0
		b.syncFollowers(r)
		b.maybeIncrementHW(r)
	case r.role != roleFollower || st.LeaderEpoch != old.LeaderEpoch:
		b.makeFollower(r)
	}
}

func (b *Broker) makeLeader(r *replica) {
	b.abandonRequests(r)
	r.role = roleLeader
	b.unfollow(r)
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
	if r.tp.Topic == protocol.OffsetsTopic {
		b.loadGroups(r)
	}
	b.maybeIncrementHW(r)
}

// syncFollowers keeps the leader's followers those of the replicas: a
// reassignment adds replicas within a leadership (their log end unknown
// until they fetch).
func (b *Broker) syncFollowers(r *replica) {
	for _, id := range r.state.Replicas {
		if id != b.id && !slices.ContainsFunc(r.followers, func(fs followerState) bool { return fs.broker == id }) {
			r.followers = append(r.followers, followerState{broker: id, leo: -1})
		}
	}
	r.followers = slices.DeleteFunc(r.followers, func(fs followerState) bool { return !slices.Contains(r.state.Replicas, fs.broker) })
}

func (b *Broker) makeFollower(r *replica) {
	b.abandonRequests(r)
	if r.tp.Topic == protocol.OffsetsTopic {
		b.coord.Unload(r.tp.Partition)
	}
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
	b.follow(r)
}

// abandonRequests answers everything parked on a replica that is no
// longer leader at this epoch. The records of abandoned produces stay in
// the log and may yet commit; the producer cannot know.
func (b *Broker) abandonRequests(r *replica) {
	for _, d := range slices.Clone(r.purgatory) {
		b.settleWaiting(d, r, protocol.NotLeaderOrFollower)
	}
	r.purgatory = r.purgatory[:0]
	b.wakeSessions(r, true) // DelayedFetch completes when a partition's leadership changes
	for _, p := range r.parked {
		b.env.CancelTimer(p.timer)
		b.env.Send(p.from, b.NewFetchResponse(protocol.FetchResponse{RequestID: p.req.RequestID, TP: r.tp, Err: protocol.NotLeaderOrFollower, DivergingEpoch: protocol.NoEpoch}))
	}
	r.parked = r.parked[:0]
}

func (b *Broker) truncate(r *replica, offset int64, why string) {
	if offset >= r.log.LEO() {
		r.log.Truncate(offset) // no records cut: only an empty epoch at the log end
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
		if id == b.id || planted.Bugs.HWSkipsFollower && i == len(isr)-1 || planted.Bugs.HWFirstThree && i >= 3 {
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
	if r.tp.Topic == protocol.OffsetsTopic {
		b.coord.Committed(r.tp.Partition, hw)
	}
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
// follower is unfenced and not in controlled shutdown in this broker's
// metadata (KIP-841), and the broker epoch it
// fetched with is its current one. Proposing anyone else would only be
// refused with INELIGIBLE_REPLICA, again at every fetch.
func (b *Broker) isrEligible(fs *followerState) bool {
	if int(fs.broker) >= len(b.image.Brokers) {
		return fs.brokerEpoch > 0
	}
	reg := b.image.Brokers[fs.broker]
	return !reg.Fenced && !reg.InControlledShutdown && fs.brokerEpoch > 0 && fs.brokerEpoch == reg.Epoch
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

// handleAlterPartitionResponse settles an ISR change as Kafka's
// Partition.handleAlterPartitionError does. Committed: apply it. Refused
// as INELIGIBLE_REPLICA, the controller says the request was not applied:
// back to the committed ISR. FENCED_LEADER_EPOCH, INVALID_UPDATE_VERSION
// or UNKNOWN_TOPIC_OR_PARTITION give up without knowing — an earlier copy
// of the request may have committed, as a retry's stale partition epoch
// suggests — so the maximal ISR stays until the metadata says what was
// committed: dropping it would let the HW pass a member the controller
// already admitted, and a leader elected from that ISR would lack
// acknowledged writes. Any other error (a stale broker epoch) is retried.
func (b *Broker) handleAlterPartitionResponse(m protocol.AlterPartitionResponse) {
	r := b.hosted(m.TP)
	if r == nil || r.alterReq != m.RequestID {
		return
	}
	switch m.Err {
	case protocol.None:
		r.pendingISR, r.alterReq = nil, 0
		b.applyState(r, m.State)
	case protocol.IneligibleReplica:
		r.pendingISR, r.alterReq = nil, 0
	case protocol.FencedLeaderEpoch, protocol.InvalidUpdateVersion, protocol.UnknownTopicOrPartition:
		r.alterReq = 0 // pending until the metadata settles it
	default:
		return // the retry timer sends it again
	}
	b.maybeIncrementHW(r)
}
