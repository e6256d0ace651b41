package cluster_test

import (
	"testing"
	"time"

	"github.com/tideline-sim/tideline/cluster"
	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/network"
	"github.com/tideline-sim/tideline/sim"
)

// BenchmarkCluster60s runs 3 brokers, 3 partitions at RF=3 and 500
// records/s of acks=all (with a consumer) for 60 simulated seconds; one op
// is one whole run. sim-s/s is simulated seconds per wall-clock second.
func BenchmarkCluster60s(b *testing.B) { benchmarkCluster(b, 0) }

// BenchmarkCluster60sGroupOf3 is BenchmarkCluster60s with a consumer group
// of three members beside the consumer (Kafka's defaults: auto-commit,
// range), and so __consumer_offsets' 50 partitions replicated too.
func BenchmarkCluster60sGroupOf3(b *testing.B) { benchmarkCluster(b, 3) }

func benchmarkCluster(b *testing.B, members int) {
	const simulated = 60 * time.Second
	var events int64
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		w, err := sim.New(sim.Config{Seed: sim.Seed(i), Duration: simulated,
			Network: network.Link{Latency: 2 * time.Millisecond, Jitter: time.Millisecond}})
		if err != nil {
			b.Fatal(err)
		}
		minISR := 2
		pc := config.DefaultProducerConfig("orders")
		pc.Rate = 500
		_, err = cluster.Build(w, cluster.Spec{
			Brokers:   3,
			Broker:    config.DefaultBrokerConfig(),
			Topics:    []config.TopicConfig{{Name: "orders", Partitions: 3, ReplicationFactor: 3, MinInsyncReplicas: &minISR}},
			Producers: []config.ProducerConfig{pc},
			Consumers: consumers(members),
		})
		if err != nil {
			b.Fatal(err)
		}
		if err := w.Run(); err != nil {
			b.Fatal(err)
		}
		events += w.Events()
	}
	perRun := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(simulated.Seconds()/perRun, "sim-s/s")
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(events)/float64(b.N), "events/run")
}

// consumers is a standalone consumer and a group of members.
func consumers(members int) []config.ConsumerConfig {
	out := []config.ConsumerConfig{config.DefaultConsumerConfig("orders")}
	for range members {
		cc := config.DefaultConsumerConfig("orders")
		cc.GroupID, cc.AutoOffsetReset = "bench", "earliest"
		out = append(out, cc)
	}
	return out
}
