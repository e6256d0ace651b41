package cluster_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/check"
	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster"
	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/network"
	"github.com/tideline-sim/tideline/sim"
)

// run is one simulated cluster run for a test.
type run struct {
	t *testing.T
	w *sim.World
	c *cluster.Cluster
}

// setup describes a test run: the cluster, how long, and the network.
type setup struct {
	seed      sim.Seed
	duration  time.Duration
	brokers   int
	rf        int
	parts     int
	minISR    int
	acks      int
	idem      bool
	rate      float64
	stopAt    time.Duration // producers stop; 0: duration-10s
	link      network.Link
	configure func(*cluster.Spec)
}

func newRun(t *testing.T, s setup) *run {
	t.Helper()
	if s.link == (network.Link{}) {
		s.link = network.Link{Latency: 2 * time.Millisecond, Jitter: time.Millisecond}
	}
	w, err := sim.New(sim.Config{Seed: s.seed, Duration: s.duration, Network: s.link})
	require.NoError(t, err)
	spec := cluster.Spec{Brokers: s.brokers, Broker: config.DefaultBrokerConfig()}
	minISR := s.minISR
	spec.Topics = []config.TopicConfig{{Name: "orders", Partitions: s.parts, ReplicationFactor: s.rf, MinInsyncReplicas: &minISR}}
	pc := config.DefaultProducerConfig("orders")
	pc.Rate, pc.Acks, pc.Idempotence = s.rate, s.acks, s.idem
	pc.Stop = s.stopAt
	if pc.Stop == 0 {
		pc.Stop = s.duration - 10*time.Second
	}
	spec.Producers = []config.ProducerConfig{pc}
	spec.Consumers = []config.ConsumerConfig{config.DefaultConsumerConfig("orders")}
	if s.configure != nil {
		s.configure(&spec)
	}
	c, err := cluster.Build(w, spec)
	require.NoError(t, err)
	return &run{t: t, w: w, c: c}
}

func (r *run) at(d time.Duration, label string, f func()) {
	r.w.At(clock.At(d), label, func(*sim.World) { f() })
}

func (r *run) node(b protocol.BrokerID) sim.NodeID { return r.c.BrokerNode(b) }

// leaderAt returns the broker the controller names leader of tp now.
func (r *run) leader(tp protocol.TopicPartition) protocol.BrokerID { return r.c.State(tp).Leader }

func (r *run) execute() {
	r.t.Helper()
	require.NoError(r.t, r.w.Run())
}

func (r *run) durability() check.Result {
	return check.AckedDurability(journal.HistoryOf(r.c.History.Ops()...), r.c.FinalLogs())
}

// count returns how many sends ended each way.
func (r *run) count() map[journal.OpType]int {
	n := map[journal.OpType]int{}
	for _, op := range r.c.History.Ops() {
		if op.F == journal.OpSend {
			n[op.Type]++
		}
	}
	return n
}

var orders0 = protocol.TopicPartition{Topic: "orders", Partition: 0}
