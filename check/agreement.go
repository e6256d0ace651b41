package check

import (
	"fmt"
	"slices"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster"
)

// ReplicaAgreementDefinition is the promise, in one line.
const ReplicaAgreementDefinition = "replicas agree on every record below their high watermarks, during the run and at the end"

type hwSeen struct {
	broker cluster.BrokerID
	at     clock.Time
	hash   uint64
}

// ReplicaAgreement checks the committed prefix of every partition. During
// the run it compares the samples taken at each high-watermark advance: two
// samples of one partition at the same high watermark must hash the records
// below it alike, whichever replica and whenever. At the end, every ISR
// member must hold the leader's log up to the leader's high watermark, and
// any two replicas must agree below the smaller of their high watermarks.
func ReplicaAgreement(samples []cluster.HWSample, final []cluster.FinalLog) Result {
	res := Result{Checker: ReplicaAgreementName, Definition: ReplicaAgreementDefinition}
	// Per partition, the first sample at each high watermark; the last
	// partition looked up is kept, since samples come in runs.
	firstByTP := map[cluster.TopicPartition]map[int64]hwSeen{}
	reported := map[cluster.TopicPartition]int{}
	var first map[int64]hwSeen
	var firstTP cluster.TopicPartition
	for _, s := range samples {
		if first == nil || s.TP != firstTP {
			first = firstByTP[s.TP]
			if first == nil {
				first = map[int64]hwSeen{}
				firstByTP[s.TP] = first
			}
			firstTP = s.TP
		}
		prev, seen := first[s.HW]
		if !seen {
			first[s.HW] = hwSeen{s.Broker, s.Time, s.Hash}
			continue
		}
		if prev.hash == s.Hash {
			continue
		}
		// One report per partition and high watermark is enough; later
		// samples at other high watermarks report the same divergence again.
		if reported[s.TP]++; reported[s.TP] > 1 {
			continue
		}
		res.Violations = append(res.Violations, Violation{Checker: ReplicaAgreementName, Kind: "divergence-below-hw", TP: s.TP, Offset: s.HW - 1, Payload: -1,
			Message: fmt.Sprintf("records below high watermark %d differ: broker %d at %v and broker %d at %v", s.HW, prev.broker, prev.at, s.Broker, s.Time)})
	}
	for _, f := range final {
		if f.Leader == cluster.NoLeader || f.HWs[f.Leader] < 0 {
			continue
		}
		hw := f.HWs[f.Leader]
		leaderLog := f.Replicas[f.Leader]
		for _, b := range f.State.ISR {
			if b == f.Leader {
				continue
			}
			if off, differ := firstDifference(leaderLog, f.Replicas[b], hw); differ {
				res.Violations = append(res.Violations, Violation{Checker: ReplicaAgreementName, Kind: "isr-diverged", TP: f.TP, Offset: off, Payload: -1,
					Message: fmt.Sprintf("ISR member broker %d differs from leader broker %d at offset %d, below the high watermark %d", b, f.Leader, off, hw)})
			}
		}
		for i, a := range f.State.Replicas {
			for _, b := range f.State.Replicas[i+1:] {
				if f.HWs[a] < 0 || f.HWs[b] < 0 || slices.Contains(f.State.ISR, a) && slices.Contains(f.State.ISR, b) && (a == f.Leader || b == f.Leader) {
					continue // down, or compared above
				}
				if off, differ := firstDifference(f.Replicas[a], f.Replicas[b], min(f.HWs[a], f.HWs[b])); differ {
					res.Violations = append(res.Violations, Violation{Checker: ReplicaAgreementName, Kind: "divergence-below-hw", TP: f.TP, Offset: off, Payload: -1,
						Message: fmt.Sprintf("brokers %d and %d differ at offset %d, below both high watermarks (%d, %d)", a, b, off, f.HWs[a], f.HWs[b])})
				}
			}
		}
	}
	return res
}

// firstDifference finds the first offset below end where two logs differ,
// a missing record counting as a difference.
func firstDifference(a, b []cluster.Record, end int64) (int64, bool) {
	for off := int64(0); off < end; off++ {
		if off >= int64(len(a)) || off >= int64(len(b)) || a[off] != b[off] {
			return off, true
		}
	}
	return 0, false
}
