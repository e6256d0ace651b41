package cluster_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/journal"
)

func TestHealthyClusterCommitsEverything(t *testing.T) {
	r := newRun(t, setup{seed: 1, duration: 30 * time.Second, brokers: 3, rf: 3, parts: 3, minISR: 2, acks: config.AcksAll, idem: true, rate: 500})
	r.execute()
	n := r.count()
	t.Logf("sends: %v, events %d", n, r.w.Events())
	assert.Equal(t, n[journal.Invoke], n[journal.Ok], "every send acknowledged")
	assert.True(t, r.durability().OK())
	reads := 0
	for _, op := range r.c.History.Ops() {
		if op.F == journal.OpPoll && op.Type == journal.Ok {
			reads++
		}
	}
	assert.Equal(t, n[journal.Ok], reads, "the consumer read every acknowledged record")
	for _, fl := range r.c.FinalLogs() {
		for b, log := range fl.Replicas {
			assert.Equal(t, fl.Records.Len(), log.Len(), "%v replica on broker %d", fl.TP, b)
		}
	}
}
