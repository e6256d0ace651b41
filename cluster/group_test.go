package cluster_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster"
	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/journal"
)

// groupOf makes the run's consumers n members of group g.
func groupOf(g string, n int, configure func(*config.ConsumerConfig)) func(*cluster.Spec) {
	return func(s *cluster.Spec) {
		s.Consumers = nil
		for range n {
			cc := config.DefaultConsumerConfig("orders")
			cc.GroupID = g
			if configure != nil {
				configure(&cc)
			}
			s.Consumers = append(s.Consumers, cc)
		}
	}
}

func TestGroupProcessesEveryRecordOnce(t *testing.T) {
	r := newRun(t, setup{seed: 1, duration: 40 * time.Second, brokers: 3, rf: 3, parts: 6, minISR: 2, acks: -1, idem: true, rate: 200,
		configure: groupOf("my-group", 3, func(cc *config.ConsumerConfig) { cc.AutoOffsetReset = "earliest" })})
	r.execute()
	processed := map[int64]int{}
	acked := map[int64]bool{}
	members := map[string]bool{}
	commits := 0
	for _, op := range r.c.History.All() {
		switch {
		case op.F == journal.OpProcess:
			processed[op.Payload]++
			members[op.Process] = true
		case op.F == journal.OpSend && op.Type == journal.Ok:
			acked[op.Payload] = true
		case op.F == journal.OpCommit && op.Type == journal.Ok:
			commits++
		}
	}
	require.NotEmpty(t, acked)
	for p := range acked {
		assert.Equal(t, 1, processed[p], "payload %s processed", journal.PayloadText(p))
	}
	assert.Len(t, members, 3, "every member processed some records")
	assert.Positive(t, commits)
}

// TestSendBlocksWhenBufferFull: with orders/0's only replica down, its
// records wait in the producer until buffer.memory is spent; then send()
// blocks the application — it offers nothing more — and after max.block.ms
// fails the record with BufferExhaustedException, definitely unwritten.
func TestSendBlocksWhenBufferFull(t *testing.T) {
	r := newRun(t, setup{seed: 1, duration: 30 * time.Second, brokers: 3, rf: 1, parts: 3, minISR: 1, acks: -1, idem: true, rate: 200,
		configure: func(s *cluster.Spec) {
			s.Producers[0].BufferMemory = 50 << 10 // 50 records of 1 KiB
			s.Producers[0].MaxBlock = 2 * time.Second
		}})
	r.at(5*time.Second, "crash broker-0", func() { r.w.Crash(r.node(0)) })
	r.execute()
	exhausted, offered := 0, 0
	for _, op := range r.c.History.All() {
		if op.F != journal.OpSend {
			continue
		}
		if op.Type == journal.Fail && strings.HasPrefix(op.Note, "BufferExhaustedException") {
			exhausted++
		}
		if op.Type == journal.Invoke && op.Time >= clock.At(10*time.Second) && op.Time < clock.At(20*time.Second) {
			offered++
		}
	}
	assert.Positive(t, exhausted, "sends fail after max.block.ms")
	assert.Less(t, offered, 20, "a blocked application offers one record each max.block.ms, not 200 a second")
}
