package cluster

import (
	"math/rand/v2"
	"time"

	"github.com/tideline-sim/tideline/cluster/storage"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/node"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/sim"
)

// fakeEnv is a node's world reduced to what a unit test of one handler
// needs: messages sent are kept for the test to read, timers never fire.
type fakeEnv struct {
	now    clock.Time
	disk   *sim.Disk
	rand   *rand.Rand
	sent   []sentMessage
	timers uint64
}

type sentMessage struct {
	to  sim.NodeID
	msg sim.Message
}

func newFakeEnv() *fakeEnv {
	return &fakeEnv{disk: sim.NewDisk(), rand: rand.New(rand.NewPCG(1, 2))}
}

func (e *fakeEnv) Now() clock.Time                     { return e.now }
func (e *fakeEnv) Self() sim.NodeID                    { return 0 }
func (e *fakeEnv) Name() string                        { return "test" }
func (e *fakeEnv) Send(to sim.NodeID, msg sim.Message) { e.sent = append(e.sent, sentMessage{to, msg}) }
func (e *fakeEnv) CancelTimer(sim.TimerID)             {}
func (e *fakeEnv) Rand() *rand.Rand                    { return e.rand }
func (e *fakeEnv) Disk() *sim.Disk                     { return e.disk }
func (e *fakeEnv) Log(string, ...any)                  {}
func (e *fakeEnv) SetTimer(time.Duration, sim.Timer) sim.TimerID {
	e.timers++
	return sim.TimerID(e.timers)
}

// last returns the last message sent, as type M.
func last[M sim.Message](e *fakeEnv) (M, bool) {
	for i := len(e.sent) - 1; i >= 0; i-- {
		if m, ok := e.sent[i].msg.(M); ok {
			return m, true
		}
	}
	var zero M
	return zero, false
}

// leaderWithLog returns broker 0 leading orders/0 at epoch with the given
// records in its log, ISR {0,1,2}.
func leaderWithLog(env *fakeEnv, epoch int32, recs []protocol.Record) (*Broker, *replica) {
	dir := node.Directory{Controller: 3, Brokers: []sim.NodeID{0, 1, 2}}
	b := NewBroker(0, config.DefaultBrokerConfig(), nil, dir, nil)
	b.env, b.epoch = env, 1
	b.parts = map[protocol.TopicPartition]*replica{}
	b.sessions = map[sessionKey]*produceSession{}
	tp := protocol.TopicPartition{Topic: "orders", Partition: 0}
	r := b.replica(tp)
	appendRecords(r.log, recs)
	r.state = protocol.PartitionState{TP: tp, Replicas: []protocol.BrokerID{0, 1, 2}, ISR: []protocol.BrokerID{0, 1, 2}, Leader: 0, LeaderEpoch: epoch}
	b.makeLeader(r)
	return b, r
}

// appendRecords appends recs to l, a batch a record.
func appendRecords(l *storage.Log, recs []protocol.Record) {
	for _, r := range recs {
		l.Append(&protocol.Batch{BaseOffset: r.Offset, ProducerID: r.ProducerID, Payloads: []int64{r.Payload}, BaseSequence: r.Sequence,
			Epoch: r.Epoch, ProducerEpoch: r.ProducerEpoch})
	}
}

// records returns n records from offset at epoch.
func records(offset int64, n int, epoch int32) []protocol.Record {
	recs := make([]protocol.Record, n)
	for i := range recs {
		recs[i] = protocol.Record{Offset: offset + int64(i), Epoch: epoch, ProducerID: -1, Sequence: -1, Payload: offset + int64(i)}
	}
	return recs
}
