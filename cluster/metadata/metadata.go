// Package metadata is the cluster metadata the KRaft controller decides
// and the metadata log carries (Kafka's MetadataImage): the registered
// brokers with their epochs and fencing, the partitions with leader, ISR
// and ELR, and the counters the controller hands out. It owns the state and
// the broker-facing image of it, not the rules that change it (the
// controller's) nor how it is replicated (raft's). It imports only
// protocol.
package metadata

import (
	"slices"

	"github.com/tideline-sim/tideline/cluster/protocol"
)

// LogName is the metadata log's file on a controller's disk: KRaft's
// __cluster_metadata topic (a lone controller keeps its last state there).
const LogName = "__cluster_metadata"

// BrokerRecord is the controller's record of one broker.
type BrokerRecord struct {
	Registered  bool
	Incarnation uint64
	Epoch       int64
	Fenced      bool
	// InControlledShutdown is KRaft's BrokerRegistrationChangeRecord
	// flag: the broker asked to stop and is handing its partitions away.
	InControlledShutdown bool
}

// State is everything the controller decides with: one value per metadata
// log record (the state after it), so a follower's or a restarted
// controller's state is its last record's, with no replay code.
type State struct {
	Version         int64
	NextBrokerEpoch int64
	NextProducerID  int64
	Brokers         []BrokerRecord          // indexed by BrokerID
	Partitions      protocol.PartitionTable // sorted by TP
}

// Clone copies what a later change may write in place: the brokers, and
// the partition table's index (its chunks are copied when written, by
// whichever of the two writes first; elements are copy-on-write).
func (s *State) Clone() State {
	c := *s
	c.Brokers = slices.Clone(s.Brokers)
	c.Partitions = s.Partitions.Share()
	return c
}

// SharedImage is the state as a broker applies it (an unregistered broker
// counts as fenced), for a state that never changes again — a metadata
// log record's, or a clone's: the image shares its partitions, so applying
// a record copies nothing of the partitions it did not change (the copy
// was most of a large cluster's cost).
func (s State) SharedImage() protocol.Image {
	brokers := make([]protocol.BrokerState, len(s.Brokers))
	for i, rec := range s.Brokers {
		brokers[i] = protocol.BrokerState{Epoch: rec.Epoch, Fenced: rec.Fenced || !rec.Registered, InControlledShutdown: rec.InControlledShutdown}
	}
	return protocol.Image{Version: s.Version, Partitions: s.Partitions, Brokers: brokers}
}
