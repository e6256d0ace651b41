// Package monitor is the run's protocol monitor: as Kafka's
// RaftEventSimulationTest checks its invariants after every event, it
// holds the brokers, the controllers and the metadata quorum to Kafka's
// replication rules and Raft's as they act, against every live replica's
// actual log at that instant, and keeps what it finds for the checkers.
// Nodes report facts to it through its methods and show it their state
// only as read-only views (Replica, Voter); it imports the shared protocol,
// journal, storage, raft and metadata types, never a broker or a
// controller.
package monitor

import (
	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/protocol"
)

// Monitor is the run's protocol monitor over its journal: the brokers and
// the controllers record events in the journal and report facts to the
// monitor as they act, and it checks Kafka's rules (replication.go) and the
// metadata quorum's (quorum.go) against the state of every live
// replica at that instant.
type Monitor struct {
	*journal.Journal
	replication
	quorum quorumMonitor
}

// New watches j, judging the configuration-dependent rules by the
// broker and topic settings as the scenario gave them (no topics: by what
// each broker holds, for unit tests).
func New(j *journal.Journal, broker config.BrokerConfig, topics []config.TopicConfig) *Monitor {
	m := &Monitor{Journal: j}
	m.elr = broker.ELR
	m.minISR = make(map[string]int, len(topics))
	m.rf = make(map[string]int, len(topics))
	m.unclean = make(map[string]bool, len(topics))
	for _, t := range topics {
		m.rf[t.Name] = t.ReplicationFactor
		m.unclean[t.Name] = broker.UncleanLeaderElection
		if t.UncleanLeaderElection != nil {
			m.unclean[t.Name] = *t.UncleanLeaderElection
		}
		m.minISR[t.Name] = broker.MinInsyncReplicas
		if t.MinInsyncReplicas != nil {
			m.minISR[t.Name] = *t.MinInsyncReplicas
		}
	}
	j.Watch(m)
	return m
}

// Describe says what the replicas of tp hold now (Watcher).
func (m *Monitor) Describe(tp protocol.TopicPartition) string { return m.logsText(tp) }

// Observe checks the rules an event concerns, and forgets the replicas of a
// broker that crashed or lost power: a dead replica holds nothing (Watcher).
func (m *Monitor) Observe(e journal.Event) {
	m.observe(e)
	if e.Broker != protocol.NoLeader && e.Kind.Down() {
		m.forget(e.Broker)
	}
}
