package check

import (
	"fmt"
	"slices"

	"github.com/tideline-sim/tideline/cluster"
	"github.com/tideline-sim/tideline/cluster/monitor"
	"github.com/tideline-sim/tideline/cluster/protocol"
)

// ReplicaAgreementDefinition is the promise, in one line.
const ReplicaAgreementDefinition = "replicas agree on every record below their high watermarks, up to the last offset where both hold the same leader epoch (Raft's LogMatching), during the run and at the end"

// ReplicaAgreement checks Kafka's LogMatching invariant: at every instant,
// any two replicas agree on every offset below the smaller of their two high
// watermarks. During the run the cluster's journal compares the live
// replicas whenever a high watermark rises or a replica recovers its log
// (divergences); at the end, every ISR member must hold the leader's log up
// to the leader's high watermark, and any two replicas must agree below the
// smaller of their high watermarks.
//
// A replica compared with its own earlier self is not a divergence: records
// a power loss took and a later leader rewrote are a durability failure,
// which acked-durability reports.
func ReplicaAgreement(divergences []monitor.Divergence, final []cluster.FinalLog) Result {
	res := Result{Checker: ReplicaAgreementName, Definition: ReplicaAgreementDefinition}
	reported := map[protocol.TopicPartition]bool{}
	for _, d := range divergences {
		if reported[d.TP] {
			continue // one report per partition: later pairs repeat the story
		}
		reported[d.TP] = true
		res.Violations = append(res.Violations, Violation{Checker: ReplicaAgreementName, Kind: "divergence-below-hw", TP: d.TP, Offset: d.Offset, Payload: -1,
			Message: fmt.Sprintf("at %v brokers %d and %d differ at offset %d, below both high watermarks (%d, %d)", d.Time, d.A, d.B, d.Offset, d.HWA, d.HWB)})
	}
	for _, f := range final {
		if f.Leader == protocol.NoLeader || f.HWs[f.Leader] < 0 {
			continue
		}
		hw := f.HWs[f.Leader]
		leaderLog := f.Replicas[f.Leader]
		for _, b := range f.State.ISR {
			if b == f.Leader {
				continue
			}
			if off, differ := leaderLog.FirstDifference(f.Replicas[b], hw); differ {
				res.Violations = append(res.Violations, Violation{Checker: ReplicaAgreementName, Kind: "isr-diverged", TP: f.TP, Offset: off, Payload: -1,
					Message: fmt.Sprintf("ISR member broker %d differs from leader broker %d at offset %d, below the high watermark %d", b, f.Leader, off, hw)})
			}
		}
		for i, a := range f.State.Replicas {
			for _, b := range f.State.Replicas[i+1:] {
				if f.HWs[a] < 0 || f.HWs[b] < 0 || slices.Contains(f.State.ISR, a) && slices.Contains(f.State.ISR, b) && (a == f.Leader || b == f.Leader) {
					continue // down, or compared above
				}
				if off, differ := f.Replicas[a].FirstDifference(f.Replicas[b], min(f.HWs[a], f.HWs[b])); differ {
					res.Violations = append(res.Violations, Violation{Checker: ReplicaAgreementName, Kind: "divergence-below-hw", TP: f.TP, Offset: off, Payload: -1,
						Message: fmt.Sprintf("brokers %d and %d differ at offset %d, below both high watermarks (%d, %d)", a, b, off, f.HWs[a], f.HWs[b])})
				}
			}
		}
	}
	return res
}
