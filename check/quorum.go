package check

import (
	"fmt"

	"github.com/tideline-sim/tideline/cluster"
	"github.com/tideline-sim/tideline/cluster/monitor"
)

// MetadataQuorumDefinition is the promise, in one line.
const MetadataQuorumDefinition = "the controllers' Raft quorum: one leader per epoch, epochs and the leader's high watermark never go back, a committed offset is on a majority and the same on every voter, and once faults heal a majority elects an active controller"

// MetadataQuorum checks the KRaft controller quorum with the invariants
// Kafka's RaftEventSimulationTest checks after every event (seen by the
// journal as the run went), then at the end: every voter's committed
// entries match the longest's at the same offsets, and with a majority of controllers
// up after the settle period, one of them is active.
func MetadataQuorum(seen []monitor.QuorumViolation, final []cluster.QuorumStatus) Result {
	res := Result{Checker: MetadataQuorumName, Definition: MetadataQuorumDefinition}
	for _, v := range seen {
		res.Violations = append(res.Violations, Violation{Checker: MetadataQuorumName, Kind: v.Kind, Offset: v.Offset, Payload: -1, At: v.Time,
			Message: fmt.Sprintf("controller-%d, epoch %d: %s", v.Voter, v.Epoch, v.Detail)})
	}
	if len(final) == 0 {
		return res
	}
	// The voter that committed the most is the reference; each other
	// voter's committed entries must match it at the same offsets, where
	// both still hold them (below a voter's log start its entries are in
	// its snapshot, KIP-630).
	longest := final[0]
	for _, s := range final[1:] {
		if s.Start+int64(len(s.Committed)) > longest.Start+int64(len(longest.Committed)) {
			longest = s
		}
	}
	up, active := 0, 0
	for _, s := range final {
		for off := max(s.Start, longest.Start); off < s.Start+int64(len(s.Committed)); off++ {
			if mine, ref := s.Committed[off-s.Start], longest.Committed[off-longest.Start]; mine != ref {
				res.Violations = append(res.Violations, Violation{Checker: MetadataQuorumName, Kind: monitor.QuorumCommitDiverged, Offset: off, Payload: -1,
					Message: fmt.Sprintf("controller-%d committed %s at offset %d, another controller %s", s.Voter, mine, off, ref)})
				break
			}
		}
		if s.Up {
			up++
		}
		if s.Active {
			active++
		}
	}
	if up > len(final)/2 && active == 0 {
		res.Violations = append(res.Violations, Violation{Checker: MetadataQuorumName, Kind: "no-active-controller", Offset: -1, Payload: -1,
			Message: fmt.Sprintf("%d of %d controllers are up at the end and none is active", up, len(final))})
	}
	if active > 1 {
		res.Violations = append(res.Violations, Violation{Checker: MetadataQuorumName, Kind: "two-active-controllers", Offset: -1, Payload: -1,
			Message: fmt.Sprintf("%d controllers are active at the end", active)})
	}
	return res
}
