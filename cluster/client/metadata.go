// Package client is Kafka's clients as applications run them: the
// producer (idempotent or not, with acks, retries, delivery and request
// timeouts, reconnect backoff and the connection's ApiVersions handshake)
// standalone consumer (a reader of every partition from offset 0), and the
// consumer group member with the application around it (member.go: the
// classic protocol, commits, KIP-320 validation; assign.go: the range and
// cooperative-sticky assignors), each with the metadata view a Kafka
// client keeps and refreshes from any broker. Each records what it did in
// the journal's client history. It knows the brokers only by the messages
// they answer; it imports cluster/protocol, cluster/config, cluster/node
// and cluster/journal, never the brokers, the coordinator or the
// controller.
package client

import (
	"time"

	"github.com/tideline-sim/tideline/cluster/node"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/sim"
)

// metadataView is a client's knowledge of who leads the partitions of its
// topic, refreshed from any broker (as a Kafka client's Metadata is). Both
// clients embed it.
type metadataView struct {
	rec        *node.Recyclers // its client's
	topic      string
	dir        node.Directory
	retransmit time.Duration
	leaders    []protocol.PartitionState // indexed by partition
	changes    uint64                    // answers applied: a view built on it is stale when this moves
	version    int64
	request    uint64 // metadata request in flight, 0 if none
	requestTo  sim.NodeID
	nextBroker int // brokers are asked in turn, so a dead one is skipped
	nextID     uint64
	// choose, if set, picks the broker to ask instead of taking turns.
	choose func() protocol.BrokerID
}

func (v *metadataView) newID() uint64 {
	v.nextID++
	return v.nextID
}

// refresh asks the next broker for metadata unless a request is in flight.
func (v *metadataView) refresh(env sim.Env) {
	if v.request != 0 {
		return
	}
	v.send(env)
}

func (v *metadataView) send(env sim.Env) {
	v.request = v.newID()
	var broker sim.NodeID
	if v.choose != nil {
		broker = v.dir.Node(v.choose())
	} else {
		broker = v.dir.Brokers[v.nextBroker%len(v.dir.Brokers)]
		v.nextBroker++
	}
	v.requestTo = broker
	env.Send(broker, protocol.MetadataRequest{RequestID: v.request})
	// No answer within a few retransmission intervals: that broker is
	// probably down; ask the next.
	v.rec.SetTimer(env, 5*v.retransmit, node.Timer{Kind: node.TMetadata, ID: v.request})
}

// onTimer handles a metadata timer; it reports whether it was one.
func (v *metadataView) onTimer(env sim.Env, t node.Timer) bool {
	if t.Kind != node.TMetadata {
		return false
	}
	if t.ID == v.request {
		v.send(env)
	}
	return true
}

// onReset asks another broker at once if the connection the metadata
// request went out on was reset.
func (v *metadataView) onReset(env sim.Env, node sim.NodeID) {
	if v.request != 0 && v.requestTo == node {
		v.send(env)
	}
}

// onResponse takes in a metadata response; it reports whether the view
// changed.
func (v *metadataView) onResponse(m protocol.MetadataResponse) bool {
	if m.RequestID != v.request {
		return false
	}
	v.request = 0
	if m.Image.Version < v.version {
		return false
	}
	v.version = m.Image.Version
	v.changes++
	for _, st := range m.Image.Partitions.All() {
		if st.TP.Topic != v.topic {
			continue
		}
		for int(st.TP.Partition) >= len(v.leaders) {
			v.leaders = append(v.leaders, protocol.PartitionState{Leader: protocol.NoLeader, LeaderEpoch: protocol.NoEpoch})
		}
		v.leaders[st.TP.Partition] = st
	}
	return true
}

// leader returns the known leader of a partition and its epoch.
func (v *metadataView) leader(p int32) (protocol.BrokerID, int32) {
	if int(p) >= len(v.leaders) {
		return protocol.NoLeader, protocol.NoEpoch
	}
	st := &v.leaders[p]
	return st.Leader, st.LeaderEpoch
}
