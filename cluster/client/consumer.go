package client

import (
	"fmt"

	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/node"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/sim"
)

type consumerPartition struct {
	tp       protocol.TopicPartition
	position int64
	fetch    node.Call // the fetch in flight, or the backoff before the next
}

// Consumer reads every partition of a topic from offset zero, fetching from
// each leader up to its high watermark, and records every record it reads
// in the history (one ok poll op per record).
type Consumer struct {
	node.Recyclers // of the messages and timers it makes

	cfg     config.ConsumerConfig
	history *journal.History
	env     sim.Env
	meta    metadataView
	parts   []*consumerPartition
}

// NewConsumer returns a consumer of cfg.Topic's partitions [0, partitions).
func NewConsumer(cfg config.ConsumerConfig, partitions int, dir node.Directory, history *journal.History) *Consumer {
	c := &Consumer{cfg: cfg, history: history, meta: metadataView{topic: cfg.Topic, dir: dir, retransmit: cfg.Retransmit}}
	c.meta.rec = &c.Recyclers
	for i := range partitions {
		c.parts = append(c.parts, &consumerPartition{tp: protocol.TopicPartition{Topic: cfg.Topic, Partition: int32(i)}})
	}
	return c
}

func (c *Consumer) Start(env sim.Env) {
	c.env = env
	for _, part := range c.parts {
		part.position, part.fetch = 0, node.Call{}
		c.history.Add(journal.Op{Time: env.Now(), Process: env.Name(), Type: journal.Ok, F: journal.OpStart, TP: part.tp, Payload: -1, Offset: 0, Broker: protocol.NoLeader})
	}
	c.meta.refresh(env)
	c.SetTimer(env, c.cfg.MetadataMaxAge, node.Timer{Kind: node.TMetadata})
}

func (c *Consumer) Receive(env sim.Env, from sim.NodeID, msg sim.Message) {
	switch m := msg.(type) {
	case protocol.MetadataResponse:
		if c.meta.onResponse(m) {
			for _, part := range c.parts {
				if part.fetch.ID == 0 {
					c.fetch(part)
				}
			}
		}
	case *protocol.FetchResponse:
		c.handleFetchResponse(*m)
	case node.Terminate:
		env.Exit() // a consumer without a group has nothing to hand over
	}
}

func (c *Consumer) Timer(env sim.Env, t sim.Timer) {
	tm := *t.(*node.Timer)
	if tm.Kind == node.TMetadata && tm.ID == 0 {
		c.meta.refresh(env)
		c.SetTimer(env, c.cfg.MetadataMaxAge, tm)
		return
	}
	if c.meta.onTimer(env, tm) || tm.Kind != node.TFetch {
		return
	}
	if part := c.partition(tm.TP); part != nil && part.fetch.OnTimer(&c.Recyclers, env, tm) {
		c.fetch(part) // the backoff is over
	}
}

func (c *Consumer) partition(tp protocol.TopicPartition) *consumerPartition {
	for _, part := range c.parts {
		if part.tp == tp {
			return part
		}
	}
	return nil
}

func (c *Consumer) fetch(part *consumerPartition) {
	leader, epoch := c.meta.leader(part.tp.Partition)
	if leader == protocol.NoLeader {
		c.meta.refresh(c.env)
		c.later(part)
		return
	}
	id := c.meta.newID()
	part.fetch.Send(&c.Recyclers, c.env, id, c.meta.dir.Node(leader), c.NewFetchRequest(consumerFetch(c.cfg, id, part.tp, epoch, part.position)),
		c.cfg.Retransmit, node.Timer{Kind: node.TFetch, TP: part.tp})
}

// consumerFetch is a consumer's fetch of tp from offset at the leader
// epoch it knows: up to the high watermark, waiting up to
// fetch.max.wait.ms, at most max.poll.records.
func consumerFetch(cfg config.ConsumerConfig, id uint64, tp protocol.TopicPartition, epoch int32, offset int64) protocol.FetchRequest {
	return protocol.FetchRequest{RequestID: id, ReplicaID: -1, TP: tp, CurrentLeaderEpoch: epoch, FetchOffset: offset,
		LastFetchedEpoch: protocol.NoEpoch, MaxWaitMs: cfg.FetchMaxWait.Milliseconds(), MaxRecords: cfg.MaxPollRecords}
}

// later fetches again after retry.backoff.ms.
func (c *Consumer) later(part *consumerPartition) {
	part.fetch.Backoff(&c.Recyclers, c.env, c.meta.newID(), c.cfg.RetryBackoff, node.Timer{Kind: node.TFetch, TP: part.tp})
}

func (c *Consumer) handleFetchResponse(m protocol.FetchResponse) {
	part := c.partition(m.TP)
	if part == nil {
		return
	}
	broker := part.fetch.To
	sentAt, ok := part.fetch.Answered(c.env, m.RequestID)
	if !ok {
		return
	}
	served, _ := c.meta.dir.BrokerOf(broker)
	switch m.Err {
	case protocol.None:
		for _, batch := range m.Batches {
			for i, payload := range batch.Payloads {
				if offset := batch.BaseOffset + int64(i); offset == part.position {
					c.history.Add(journal.Op{Time: c.env.Now(), Process: c.env.Name(), Type: journal.Ok, F: journal.OpPoll, TP: part.tp, Payload: payload, Offset: offset,
						Broker: served, Start: sentAt, HW: m.HighWatermark})
					part.position++
				}
			}
		}
		c.fetch(part)
	case protocol.OffsetOutOfRange:
		// The leader's log ends before our position: records we read were
		// truncated away. Like auto.offset.reset=latest, go to its end.
		c.history.Add(journal.Op{Time: c.env.Now(), Process: c.env.Name(), Type: journal.Info, F: journal.OpPoll, TP: part.tp, Payload: -1, Offset: m.LogEndOffset,
			Err: m.Err, Broker: served, Start: sentAt, HW: m.HighWatermark,
			Note: fmt.Sprintf("position %d past the leader's log end %d: reset", part.position, m.LogEndOffset)})
		part.position = m.LogEndOffset
		c.fetch(part)
	default:
		c.meta.refresh(c.env)
		c.later(part)
	}
}
