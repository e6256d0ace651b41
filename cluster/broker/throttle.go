package broker

import (
	"slices"
	"time"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster/protocol"
)

// Replication throttles (KIP-73): leader.replication.throttled.rate and
// follower.replication.throttled.rate bound, in bytes per second per
// broker, the replication traffic of throttled replicas — those a
// reassignment is adding, as kafka-reassign-partitions.sh --throttle marks
// them. A token bucket holding at most one second of the rate stands in
// for Kafka's windowed quota: a throttled fetch takes what the bucket
// holds, and waits when it is empty.

type throttle struct {
	rate   int64 // bytes per second; 0: none
	tokens float64
	at     clock.Time
}

// available refills the bucket to now and returns the bytes it holds.
func (t *throttle) available(now clock.Time) int64 {
	t.tokens = min(float64(t.rate), t.tokens+float64(t.rate)*now.Sub(t.at).Seconds())
	t.at = now
	return int64(max(t.tokens, 0))
}

// spend takes bytes out of the bucket (it may go below empty: the next
// fetches wait until it refills).
func (t *throttle) spend(bytes int64) { t.tokens -= float64(bytes) }

// wait is how long until the bucket holds bytes.
func (t *throttle) wait(bytes int64) time.Duration {
	return time.Duration((float64(bytes) - t.tokens) / float64(t.rate) * float64(time.Second))
}

// throttled reports whether broker replica's traffic for r is throttled:
// it is being added by a reassignment.
func throttled(r *replica, replica protocol.BrokerID) bool {
	return slices.Contains(r.state.Adding, replica)
}

// recordsOf counts the records of batches.
func recordsOf(batches []*protocol.Batch) int64 {
	n := 0
	for _, b := range batches {
		n += b.Len()
	}
	return int64(n)
}
