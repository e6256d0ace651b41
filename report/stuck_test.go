package report

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/runner"
	"github.com/tideline-sim/tideline/scenarios"
)

// A reassignment that cannot finish — here its new replica is throttled to
// 1 KB/s, one record a second, and never catches up with 100 — is reported
// as stuck, with the replica it waits for; nothing acknowledged is lost.
func TestStuckReassignmentIsReported(t *testing.T) {
	sc, err := scenarios.Load("stuck.yaml", []byte(`name: stuck
duration: 30s
cluster:
  brokers: 4
  config: { follower.replication.throttled.rate: 1000 }
  topics: [{ name: orders, partitions: 1, replication.factor: 3, config: { min.insync.replicas: 2 } }]
workload:
  producers: [{ topic: orders, rate: 100/s, acks: all }]
faults:
  - { at: 5s, reassign: { partition: orders/0, replicas: [1, 2, 3] } }
expect:
  eventual-delivery: any
`))
	require.NoError(t, err)
	res, err := runner.Run(sc, runner.Options{Seed: 1})
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, Text(&out, res, "simulate"))
	assert.Contains(t, out.String(), "reassignments still in progress at the end (stuck): orders/0 to [1 2 3] (waiting for [3] to join the ISR)")
	assert.Equal(t, 0, res.Lost)
}
