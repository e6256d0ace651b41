package explore

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/scenarios"
	"github.com/tideline-sim/tideline/sim"
)

// The configuration swarm: as FoundationDB randomises its knobs and
// TigerBeetle's VOPR the cluster's shape, each seed also draws the cluster
// and its settings, from a stream of its own ("explore/config"), so that a
// seed is reproducible from its number alone and the fault draw is what it
// would be on a base of that shape. Every value stays within Kafka's
// documented ranges and within the safety claim (acks=all, min ISR ≥ 2, no
// unclean election); the settle period grows with the timing drawn, so that
// liveness is judged against the recovery those settings allow.

// Drawn is a seed's drawn configuration: scenario keys, as Compose sets
// them, to values.
type Drawn map[string]any

// Swarm bounds: the shape of a drawn cluster.
const (
	swarmMinBrokers, swarmMaxBrokers = 3, 7
	swarmMaxRF                       = 5
	swarmMaxPartitions               = 6
)

// swarmProperties are the broker properties the swarm draws, in the order
// shrink returns them to Kafka's defaults.
var swarmProperties = []string{
	"auto.leader.rebalance.enable", "leader.imbalance.check.interval.seconds", "replica.fetch.wait.max.ms",
	"broker.heartbeat.interval.ms", "broker.session.timeout.ms", "replica.lag.time.max.ms",
	"eligible.leader.replicas.version",
}

// minFaultWindow is the shortest fault window a longer settle period may
// leave.
const minFaultWindow = 15 * time.Second

// Baseline timing the base's settle period was reasoned from
// (baseline.yaml): what a drawn session or lag time adds to it.
const (
	settleSession = 9 * time.Second
	settleLag     = 5 * time.Second
)

// DrawConfig draws seed's cluster and settings onto base: 3–7 brokers (at
// least the largest replication factor of its other topics), 1, 3 or 5
// controllers, the first topic's partitions (1–6), replication factor (3 to
// min(5, brokers)) and min.insync.replicas (2 to RF−1); the broker's
// replica.lag.time.max.ms (2–10 s), broker.session.timeout.ms (6–12 s) with
// broker.heartbeat.interval.ms (1 s to a third of it), replica.fetch.wait.max.ms
// (100–500 ms), leader.imbalance.check.interval.seconds (5–30 s, short enough
// that preferred elections happen within a run) and
// auto.leader.rebalance.enable (true on three seeds in four) and
// eligible.leader.replicas.version (0 or 1); each
// acks=all producer's enable.idempotence (on three in four; acks is kept).
func DrawConfig(base *scenarios.Scenario, seed uint64) Drawn {
	r := sim.Seed(seed).Stream("explore/config")
	d := Drawn{}
	least := swarmMinBrokers
	for i, t := range base.Cluster.Topics {
		if i > 0 {
			least = max(least, t.ReplicationFactor)
		}
	}
	brokers := max(least, swarmMinBrokers+r.IntN(swarmMaxBrokers-swarmMinBrokers+1))
	d["cluster.brokers"] = brokers
	d["cluster.controllers"] = []int{1, 3, 5}[r.IntN(3)]
	if len(base.Cluster.Topics) > 0 {
		rf := 3 + r.IntN(min(swarmMaxRF, brokers)-2)
		d["cluster.topics.0.partitions"] = 1 + r.IntN(swarmMaxPartitions)
		d["cluster.topics.0:replication.factor"] = rf
		d["cluster.topics.0.config:min.insync.replicas"] = 2 + r.IntN(rf-2)
	}
	lag := time.Duration(2+r.IntN(9)) * time.Second
	session := time.Duration(6+r.IntN(7)) * time.Second
	heartbeat := time.Second + time.Duration(r.IntN(int((session/3-time.Second)/(500*time.Millisecond))+1))*500*time.Millisecond
	d["cluster.config:replica.lag.time.max.ms"] = lag.Milliseconds()
	d["cluster.config:broker.session.timeout.ms"] = session.Milliseconds()
	d["cluster.config:broker.heartbeat.interval.ms"] = heartbeat.Milliseconds()
	d["cluster.config:replica.fetch.wait.max.ms"] = 100 * (1 + r.IntN(5))
	d["cluster.config:leader.imbalance.check.interval.seconds"] = 5 + r.IntN(26)
	d["cluster.config:auto.leader.rebalance.enable"] = r.IntN(4) != 0
	for i, p := range base.Cluster.Producers {
		if on := r.IntN(4) != 0; p.Acks == config.AcksAll {
			d[fmt.Sprintf("workload.producers.%d:enable.idempotence", i)] = on // Kafka refuses idempotence without acks=all
		}
	}
	// KIP-966's eligible leader replicas, on half the seeds (drawn last:
	// the values above stay what they were).
	d["cluster.config:eligible.leader.replicas.version"] = r.IntN(2)
	// Racks on a quarter of the seeds (brokers round-robin over three
	// zones, placed by Kafka's striped placer), so that a zone's outage is
	// a fault a seed can draw; drawn after the rest, which stays as it was.
	if r.IntN(4) == 0 && base.Cluster.Racks == nil {
		d["cluster.racks"] = []any{"a", "b", "c"}
	}
	// A longer session delays a restarted broker's re-registration (twice:
	// the old session, then the new one's first heartbeat), a longer lag
	// time the ISR shrink acks=all waits for. The settle period grows by
	// that much, out of the fault window while it keeps minFaultWindow
	// (a seed costs what the base costs), the run longer beyond.
	extra := 2*max(0, session-settleSession) + max(0, lag-settleLag)
	longer := max(0, minFaultWindow-(base.FaultWindowEnd()-extra))
	d["settle"] = seconds((base.Settle + extra).Seconds())
	d["duration"] = seconds((base.Duration + longer).Seconds())
	return d
}

// Text is the drawn configuration in one line, keys in order.
func (d Drawn) Text() string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(d)) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		name := k[strings.LastIndexAny(k, ".:")+1:]
		if i := strings.IndexByte(k, ':'); i >= 0 {
			name = k[i+1:]
		}
		fmt.Fprintf(&b, "%s=%v", name, d[k])
	}
	return b.String()
}
