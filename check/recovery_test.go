package check

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// slow-recovery fires when writes resume past the bound, or never though
// producers kept sending past it, and not when a later fault striking
// before the deadline explains the wait.
func TestSlowRecovery(t *testing.T) {
	const session, lag = 9 * time.Second, 5 * time.Second
	crash := BoundedFault{At: 5 * time.Second, Lasted: 2 * time.Second, Text: "crash broker-1 for 2s"} // bound 9 + 5 + 5 = 19 s: due at 24 s
	kinds := func(r Result) []string {
		var out []string
		for _, v := range r.Violations {
			out = append(out, v.Kind)
		}
		return out
	}
	assert.Empty(t, kinds(SlowRecovery([]BoundedFault{crash}, []Recovery{{WritesResumed: 18 * time.Second}}, session, lag, 40*time.Second)))
	assert.Equal(t, []string{"slow-recovery"}, kinds(SlowRecovery([]BoundedFault{crash}, []Recovery{{WritesResumed: 20 * time.Second}}, session, lag, 40*time.Second)))
	assert.Equal(t, []string{"slow-recovery"}, kinds(SlowRecovery([]BoundedFault{crash}, []Recovery{{WritesResumed: -1}}, session, lag, 40*time.Second)), "never, though producers sent until 40 s")
	assert.Empty(t, kinds(SlowRecovery([]BoundedFault{crash}, []Recovery{{WritesResumed: -1}}, session, lag, 20*time.Second)), "producers stopped before the deadline: nothing to judge")

	// A second fault at 15 s, before the first one's deadline, lasting
	// 12 s: both are due at 15 + 12 + 5 + 5 = 37 s.
	isolate := BoundedFault{At: 15 * time.Second, Lasted: 12 * time.Second, Text: "isolate broker-2 for 12s"}
	both := SlowRecovery([]BoundedFault{crash, isolate}, []Recovery{{WritesResumed: 30 * time.Second}, {WritesResumed: 20 * time.Second}}, session, lag, 45*time.Second)
	assert.Empty(t, kinds(both))
	late := SlowRecovery([]BoundedFault{crash, isolate}, []Recovery{{WritesResumed: 33 * time.Second}, {WritesResumed: 23 * time.Second}}, session, lag, 45*time.Second)
	assert.Equal(t, []string{"slow-recovery", "slow-recovery"}, kinds(late))
}
