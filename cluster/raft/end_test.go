package raft

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/tideline-sim/tideline/cluster/config"
)

// Kafka's strictExponentialElectionBackoffMs for EndQuorumEpoch's
// preferred successors: the first at once, then the maximum backoff
// (1 s) halved n-1 times and doubled per place; the maximum when absent.
func TestSuccessorBackoffIsKafkas(t *testing.T) {
	q := &Quorum[int]{cfg: config.DefaultQuorumConfig()}
	ms := time.Millisecond
	assert.Equal(t, []time.Duration{0, 500 * ms}, []time.Duration{q.successorBackoff(0, 2), q.successorBackoff(1, 2)})
	assert.Equal(t, []time.Duration{0, 125 * ms, 250 * ms, 500 * ms}, []time.Duration{q.successorBackoff(0, 4), q.successorBackoff(1, 4), q.successorBackoff(2, 4), q.successorBackoff(3, 4)})
	assert.Equal(t, 1000*ms, q.successorBackoff(-1, 4))
}
