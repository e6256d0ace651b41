package scenarios

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/cluster/protocol"
)

func TestBadScenariosSayWhereAndWhat(t *testing.T) {
	tests := []struct {
		file      string
		line, col int
		msg       string
	}{
		{"unknown-field.yaml", 12, 33, `unknown field "targt"`},
		{"wrong-type.yaml", 4, 12, `brokers: "three" is not a whole number`},
		{"bad-duration.yaml", 2, 11, `bad duration "30sec": write a number with a unit`},
		{"rate-without-unit.yaml", 10, 38, `rate 100 has no unit: write 100/s`},
		{"fault-past-window.yaml", 12, 11, `fault at 25s ends past the fault window`},
		{"no-such-broker.yaml", 12, 23, `target "broker-7" names no broker: the cluster has broker-0 to broker-2`},
		{"rf-above-brokers.yaml", 8, 27, `replication.factor 5 is more than the 3 brokers`},
		{"unknown-kafka-property.yaml", 6, 36, `(did you mean "unclean.leader.election.enable"?)`},
		{"bad-acks.yaml", 10, 51, `acks: bad value "2": want 0, 1 or all`},
		{"unknown-topic.yaml", 10, 24, `unknown topic "payments" (topics: orders)`},
		{"two-actions.yaml", 12, 5, `fault has 2 actions (crash and restart)`},
		{"no-action.yaml", 12, 5, `fault does nothing`},
		{"faults-out-of-order.yaml", 13, 11, `faults must be in time order`},
		{"bad-loss.yaml", 12, 9, `network.loss 1.5 is not a probability`},
		{"unknown-expectation.yaml", 12, 3, `unknown expectation "acked-durabilty" (did you mean "acked-durability"?)`},
		{"bad-availability.yaml", 12, 17, `is not a share from 0 to 1`},
		{"min-isr-above-rf.yaml", 9, 38, `min.insync.replicas 4 is more than replication.factor 3`},
		{"no-such-partition.yaml", 12, 23, `topic orders has no partition 9 (it has 3)`},
		{"unknown-target.yaml", 12, 23, `unknown target "the-leader"`},
		{"syntax-error.yaml", 11, 9, `']' not found`},
		{"no-name.yaml", 1, 1, `the scenario has no name`},
		{"unknown-trigger.yaml", 12, 23, `(did you mean "isr-expand"?)`},
		{"unknown-version.yaml", 5, 44, `"2.9" is not a Kafka version`},
		{"no-such-consumer.yaml", 13, 23, `target "consumer-7" names no consumer: the workload has consumer-0 to consumer-2`},
		{"bad-commit-mode.yaml", 14, 34, `want auto (Kafka's auto-commit inside poll), after-processing`},
		{"bad-offset-reset.yaml", 14, 36, `Invalid value smallest for configuration auto.offset.reset: String must be one of: latest, earliest, none`},
		{"session-timeout-out-of-range.yaml", 14, 37, `the coordinator refuses the join with INVALID_SESSION_TIMEOUT`},
		{"too-many-instances.yaml", 11, 62, `instances: 5000, want 1 to 1000`},
		{"idempotence-in-flight.yaml", 13, 56, `Must set max.in.flight.requests.per.connection to at most 5 to use the idempotent producer.`},
		{"delivery-timeout-too-short.yaml", 13, 38, `delivery.timeout.ms should be equal to or larger than linger.ms + request.timeout.ms`},
	}
	files, err := filepath.Glob("../testdata/scenarios/bad/*.yaml")
	require.NoError(t, err)
	require.Len(t, files, len(tests), "every bad file has a row")
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("../testdata/scenarios/bad", tt.file)
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			_, err = Load(path, data)
			var se *Error
			require.True(t, errors.As(err, &se), "want a *scenarios.Error, got %v", err)
			assert.Equal(t, path, se.File)
			assert.Equal(t, tt.line, se.Line, "line: %v", err)
			assert.Equal(t, tt.col, se.Col, "column: %v", err)
			assert.Contains(t, se.Error(), tt.msg)
		})
	}
}

func TestBuiltinsLoad(t *testing.T) {
	names := BuiltinNames()
	require.GreaterOrEqual(t, len(names), 14)
	for _, name := range names {
		sc, err := Builtin(name)
		require.NoError(t, err, name)
		assert.Equal(t, name, sc.Name, "file name and scenario name agree")
		assert.NotEmpty(t, sc.Description, name)
		assert.NotEmpty(t, sc.Expect, "%s has an expect block", name)
	}
}

func TestOpenFindsBuiltinByFileName(t *testing.T) {
	sc, err := Open("leader-crash.yaml")
	require.NoError(t, err)
	assert.Equal(t, "built-in", sc.Source)
	_, err = Open("no-such-scenario.yaml")
	assert.ErrorContains(t, err, "built-in: ")
}

func TestScenarioFieldsReachTheCluster(t *testing.T) {
	sc, err := Load("x.yaml", []byte(`
name: x
duration: 40s
settle: 5s
seed: 9
cluster:
  brokers: 4
  config: { replica.lag.time.max.ms: 5000, unclean.leader.election.enable: true }
  topics:
    - { name: orders, partitions: 2, replication.factor: 3, config: { min.insync.replicas: 2 } }
network:
  latency: { base: 5ms, jitter: 2ms, shape: pareto }
  loss: 0.01
  links: [{ from: broker-0, to: broker-1, latency: { base: 50ms } }]
workload:
  producers: [{ topic: orders, rate: 30/m, acks: 1, config: { retries: 3 } }]
  consumers: [{ topic: orders }]
faults:
  - { at: 5s, partition: [[broker-0], rest], for: 10s }
  - { at: 20s, slow-link: { from: [leader(orders/1)], to: [rest], delay: 1s } }
  - { at: 25s, elect: orders/0, unclean: true }
expect:
  acked-durability: fail
  availability: "> 0.5"
  max-recovery: 30s
`))
	require.NoError(t, err)
	assert.Equal(t, uint64(9), sc.Seed)
	assert.Equal(t, 35*time.Second, sc.FaultWindowEnd())
	assert.Equal(t, 5*time.Second, sc.Cluster.Broker.ReplicaLagTimeMax)
	assert.True(t, sc.Cluster.Broker.UncleanLeaderElection)
	assert.Equal(t, 2, *sc.Cluster.Topics[0].MinInsyncReplicas)
	assert.Equal(t, 5*time.Millisecond, sc.Network.Latency)
	assert.Equal(t, 50*time.Millisecond, sc.Links[0].Link.Latency)
	p := sc.Cluster.Producers[0]
	assert.InDelta(t, 0.5, p.Rate, 1e-9)
	assert.Equal(t, 1, p.Acks)
	assert.False(t, p.Idempotence, "acks=1 turns Kafka's default idempotence off")
	assert.Equal(t, int64(3), p.Retries)
	assert.Equal(t, sc.FaultWindowEnd(), p.Stop)
	require.Len(t, sc.Faults, 3)
	assert.Equal(t, "partition [broker-0] | [rest] for 10s", sc.Faults[0].Text)
	assert.Equal(t, protocol.TopicPartition{Topic: "orders", Partition: 1}, sc.Faults[1].From[0].TP)
	assert.True(t, sc.Faults[2].Unclean)
	require.Len(t, sc.Expect, 3)
}

// Every measure takes every comparison, so a scenario can assert that Kafka
// is unavailable as well as that it is safe; a bare value keeps its old
// meaning (availability a floor, max-recovery a ceiling, counts exact).
func TestExpectationComparisons(t *testing.T) {
	sc, err := Load("cmp.yaml", []byte(`
name: cmp
duration: 30s
cluster: { brokers: 1, topics: [{ name: orders, partitions: 1, replication.factor: 1 }] }
expect:
  availability: "<= 0.5"
  max-recovery: ">= 20s"
  lost: "> 0"
  offline-partitions: 1
`))
	require.NoError(t, err)
	got := map[string]Expectation{}
	for _, e := range sc.Expect {
		got[e.Name] = e
	}
	assert.Equal(t, Expectation{Name: "availability", Text: "<= 0.5", Op: "<=", Value: 0.5}, got["availability"])
	assert.Equal(t, Expectation{Name: "max-recovery", Text: ">= 20s", Op: ">=", Value: 20}, got["max-recovery"])
	assert.Equal(t, Expectation{Name: "lost", Text: "> 0", Op: ">", Value: 0}, got["lost"])
	assert.Equal(t, Expectation{Name: "offline-partitions", Text: "1", Op: "==", Value: 1}, got["offline-partitions"])
	assert.True(t, got["availability"].Holds(0.5))
	assert.False(t, got["availability"].Holds(0.51))
	assert.True(t, got["lost"].Holds(3))
	assert.False(t, got["lost"].Holds(0))

	for _, bad := range []string{`lost: "-1"`, `lost: "=< 3"`, `max-recovery: "> soon"`, `availability: "< 2"`, `offline-partitions: 1.5`} {
		_, err := Load("bad.yaml", []byte("name: bad\nduration: 30s\ncluster: { brokers: 1, topics: [{ name: orders, partitions: 1, replication.factor: 1 }] }\nexpect:\n  "+bad+"\n"))
		require.Error(t, err, bad)
		assert.Contains(t, err.Error(), "bad.yaml:5:", bad)
	}
}

// Several unknown keys in one mapping: the first in the file is reported,
// on every load (the decoder's own check reports one in map order), and a
// suggestion is a real key of that mapping, never the key typed.
func TestUnknownKeysAreReportedInFileOrder(t *testing.T) {
	text := []byte("name: x\ncluster: { topics: [{ name: o, partitions: 1, replication.factor: 1 }] }\nfaults:\n  - { at: 1s, crash: broker-0, zzz: 1, aaa: 2, yyy: 3, halt: 4 }\n")
	for range 30 {
		_, err := Load("keys.yaml", text)
		require.Error(t, err)
		assert.Equal(t, `keys.yaml:4:32: unknown field "zzz" (known here: at, for, crash, power-loss, stop, restart, pause, resume, isolate, partition, one-way, heal, slow-link, loss, elect, reassign, unclean, after, delay)`, err.Error())
	}
	_, err := Load("halt.yaml", []byte("name: x\ncluster: { topics: [{ name: o, partitions: 1, replication.factor: 1 }] }\nfaults:\n  - { at: 1s, halt: broker-0 }\n"))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), `did you mean "halt"`)
	_, err = Load("typo.yaml", []byte("name: x\ncluster: { topics: [{ name: o, partitions: 1, replcation.factor: 1 }] }\n"))
	assert.ErrorContains(t, err, `unknown field "replcation.factor" (did you mean "replication.factor"?)`)
}

// An operator's election takes kafka-leader-election.sh's forms: the
// partition alone, or { partition, type: preferred | unclean }; a wrong
// type is refused where it is written, with the nearest.
func TestElectTakesKafkaLeaderElectionTypes(t *testing.T) {
	load := func(elect string) (*Scenario, error) {
		return Load("elect.yaml", []byte("name: x\ncluster: { brokers: 3, topics: [{ name: orders, partitions: 1, replication.factor: 3 }] }\nfaults:\n  - { at: 1s, elect: "+elect+" }\n"))
	}
	for elect, want := range map[string]Fault{
		"orders/0": {Kind: Elect},
		"{ partition: orders/0, type: preferred }": {Kind: Elect, Preferred: true},
		"{ partition: orders/0, type: unclean }":   {Kind: Elect, Unclean: true},
	} {
		sc, err := load(elect)
		require.NoError(t, err, elect)
		f := sc.Faults[0]
		assert.Equal(t, []any{Elect, "orders/0", want.Preferred, want.Unclean}, []any{f.Kind, f.TP.String(), f.Preferred, f.Unclean}, elect)
	}
	_, err := load("{ partition: orders/0, type: prefered }")
	assert.EqualError(t, err, `elect.yaml:4:51: election type "prefered": want preferred or unclean, as kafka-leader-election.sh's --election-type (did you mean "preferred"?)`)
	_, err = load("{ partition: orders/9, type: preferred }")
	assert.ErrorContains(t, err, "elect.yaml:4:")
}

// cluster.racks assigns broker.rack round-robin (broker-i gets racks[i mod
// n]); cluster.brokers may instead list each broker with its rack; rack(x)
// names every broker in x.
func TestRacksRoundRobinOrPerBroker(t *testing.T) {
	sc, err := Load("racks.yaml", []byte("name: x\ncluster: { brokers: 5, racks: [a, b, c], topics: [{ name: o, partitions: 1, replication.factor: 3 }] }\nfaults:\n  - { at: 1s, crash: rack(b), for: 1s }\n"))
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b", "c", "a", "b"}, sc.Cluster.Racks)
	assert.Equal(t, Target{Kind: RackTarget, Rack: "b"}, sc.Faults[0].Target)
	assert.Equal(t, "crash rack(b) for 1s", sc.Faults[0].Text)

	sc, err = Load("brokers.yaml", []byte("name: x\ncluster: { brokers: [{ rack: a }, { rack: a }, { rack: b }], topics: [{ name: o, partitions: 1, replication.factor: 3 }] }\n"))
	require.NoError(t, err)
	assert.Equal(t, 3, sc.Cluster.Brokers)
	assert.Equal(t, []string{"a", "a", "b"}, sc.Cluster.Racks)
}

func TestGroupInputsRefused(t *testing.T) {
	base := `
name: g
duration: 30s
cluster:
  brokers: %s
  topics: [{ name: orders, partitions: 3, replication.factor: 1 }]
workload:
  consumers: [%s]
faults: [%s]
`
	for _, tt := range []struct{ brokers, consumers, faults, msg string }{
		{"3", `{ group.id: billing }`, ``, `unknown topic ""`},
		{"3", `{ topic: orders, group.id: billing }`, `{ at: 5s, crash: group(biling) }`, `no consumer is in group "biling"; the groups are billing (did you mean group(billing)?)`},
		{"3", `{ topic: orders }`, `{ at: 5s, crash: coordinator(billing) }`, `the workload has no consumer group`},
		{"3", `{ topic: orders, instances: 2 }`, ``, `without a group.id`},
		{"2", `{ topic: orders, group.id: billing }`, ``, `does not meet the required replication factor '3' for the offsets topic`},
		{"3", `{ topic: orders, group.id: billing, config: { enable.auto.commit: false } }`, ``, `nothing would ever commit`},
	} {
		_, err := Load("g.yaml", []byte(fmt.Sprintf(base, tt.brokers, tt.consumers, tt.faults)))
		var se *Error
		require.True(t, errors.As(err, &se), "want a *scenarios.Error, got %v", err)
		assert.Contains(t, se.Error(), tt.msg)
	}
}

// TestProducerSettingsResolvedAsKafka: idempotence left unset gives way to
// acks other than all or retries=0, with a log line in Kafka; set
// explicitly, Kafka refuses (4.0 refuses more than 5 in flight either way);
// delivery.timeout.ms left unset is raised to linger.ms + request.timeout.ms.
func TestProducerSettingsResolvedAsKafka(t *testing.T) {
	load := func(producer string) (*Scenario, error) {
		return Load("p.yaml", []byte(fmt.Sprintf(`
name: p
duration: 30s
cluster:
  brokers: 3
  topics: [{ name: orders, partitions: 1, replication.factor: 3 }]
workload:
  producers: [%s]
`, producer)))
	}
	sc, err := load(`{ topic: orders, rate: 10/s, acks: 1 }`)
	require.NoError(t, err)
	assert.False(t, sc.Cluster.Producers[0].Idempotence, "acks=1 turns the default idempotence off")
	sc, err = load(`{ topic: orders, rate: 10/s, config: { retries: 0 } }`)
	require.NoError(t, err)
	assert.False(t, sc.Cluster.Producers[0].Idempotence, "retries=0 turns the default idempotence off")
	_, err = load(`{ topic: orders, rate: 10/s, acks: 1, enable.idempotence: true }`)
	assert.ErrorContains(t, err, "Must set acks to all in order to use the idempotent producer.")
	_, err = load(`{ topic: orders, rate: 10/s, config: { retries: 0, enable.idempotence: true } }`)
	assert.ErrorContains(t, err, "Must set retries to non-zero when using the idempotent producer.")
	sc, err = load(`{ topic: orders, rate: 10/s, config: { request.timeout.ms: 200000 } }`)
	require.NoError(t, err)
	assert.Equal(t, 200005*time.Millisecond, sc.Cluster.Producers[0].DeliveryTimeout, "raised to linger.ms + request.timeout.ms")
	_, err = load(`{ topic: orders, rate: 10/s, config: { batch.size: 65536, buffer.memory: 32768 } }`)
	assert.ErrorContains(t, err, "larger than buffer.memory")
}
