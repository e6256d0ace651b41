package check

import (
	"fmt"
	"time"

	"github.com/tideline-sim/tideline/clock"
)

// SlowRecoveryName is the recovery-bound checker.
const SlowRecoveryName = "slow-recovery"

// SlowRecoveryDefinition is the promise, in one line.
const SlowRecoveryDefinition = "with one fault at a time, writes to every partition resume within max(fault, broker.session.timeout.ms) + replica.lag.time.max.ms + 5 s"

// RecoveryMargin is what the bound allows beyond fencing and the ISR
// shrink: the election, metadata reaching brokers and clients
// (replica.fetch.wait.max.ms, metadata refresh), and the producer's
// retries and reconnection backoff (retry.backoff.max.ms and
// reconnect.backoff.max.ms, 1 s each by default).
const RecoveryMargin = 5 * time.Second

// BoundedFault is one fault of a run whose faults came one at a time, and
// how long its effect lasted (a crash until the restart, a pause until the
// resume, a network fault until healed).
type BoundedFault struct {
	At, Lasted time.Duration
	Text       string
}

// recoveryBound is Kafka's recovery from one fault, from the scenario's
// settings: a partition whose leader the fault took waits until the fault
// ends or the broker is fenced (broker.session.timeout.ms after its last
// heartbeat), whichever is later when the fault outlasts the session —
// clients then find the new leader — and an acks=all partition whose
// follower it took waits for the leader to shrink the ISR
// (replica.lag.time.max.ms) or the follower to catch up; RecoveryMargin
// covers the election, metadata propagation and client retries.
func recoveryBound(lasted, session, lag time.Duration) time.Duration {
	return max(lasted, session) + lag + RecoveryMargin
}

// SlowRecovery holds each fault to its recovery bound. Its deadline is its
// start plus the bound, moved later by the faults around it: an earlier
// fault whose recovery is still due may hold writes back, and so may a
// later one that strikes before this deadline (its own deadline then
// counts). By then every partition must have acknowledged a write sent
// after the fault began. A partition that acknowledged none by the end,
// though producers kept sending past the deadline (until producing, the
// settle period's start), did not recover in time either. Recoveries come
// from MeasureAvailability, one per fault in order.
func SlowRecovery(faults []BoundedFault, recoveries []Recovery, session, lag, producing time.Duration) Result {
	res := Result{Checker: SlowRecoveryName, Definition: SlowRecoveryDefinition}
	deadlines := make([]time.Duration, len(faults))
	for i, f := range faults {
		deadlines[i] = f.At + recoveryBound(f.Lasted, session, lag)
		if i > 0 {
			deadlines[i] = max(deadlines[i], deadlines[i-1])
		}
	}
	for i := len(faults) - 2; i >= 0; i-- {
		if faults[i+1].At < deadlines[i] {
			deadlines[i] = max(deadlines[i], deadlines[i+1])
		}
	}
	for i, f := range faults {
		if i >= len(recoveries) {
			break
		}
		deadline, rec := deadlines[i], recoveries[i]
		switch {
		case rec.WritesResumed >= 0 && f.At+rec.WritesResumed > deadline:
			// The story is what held writes back, up to when they resumed.
			res.Violations = append(res.Violations, Violation{Checker: SlowRecoveryName, Kind: "slow-recovery", Offset: -1, At: clock.At(f.At + rec.WritesResumed),
				Message: fmt.Sprintf("after %s at %v writes resumed on every partition only after %v, past the bound %v (the fault lasted %v; session %v, lag %v)",
					f.Text, f.At, rec.WritesResumed, deadline-f.At, f.Lasted, session, lag)})
		case rec.WritesResumed < 0 && deadline < producing:
			res.Violations = append(res.Violations, Violation{Checker: SlowRecoveryName, Kind: "slow-recovery", Offset: -1, At: clock.At(deadline),
				Message: fmt.Sprintf("after %s at %v some partition acknowledged no write again, though producers sent until %v, past the bound %v (the fault lasted %v; session %v, lag %v)",
					f.Text, f.At, producing, deadline-f.At, f.Lasted, session, lag)})
		}
	}
	return res
}
