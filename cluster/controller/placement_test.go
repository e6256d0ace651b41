package controller

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/cluster/protocol"
)

// mockRandom is Kafka's test MockRandom (server-common's util): a fixed
// linear congruential sequence from seed 17, so that tideline's placer can
// be held to the placements StripedReplicaPlacerTest expects.
type mockRandom struct{ state int64 }

func newMockRandom() *mockRandom { return &mockRandom{state: 17} }

func (m *mockRandom) Next(bits int) int32 {
	m.state = m.state*2862933555777941757 + 3037000493
	return int32(uint64(m.state) >> (64 - bits))
}

func ids(xs ...int) []protocol.BrokerID {
	out := make([]protocol.BrokerID, len(xs))
	for i, x := range xs {
		out[i] = protocol.BrokerID(x)
	}
	return out
}

func usable(id int, rack string, fenced bool) UsableBroker {
	return UsableBroker{ID: protocol.BrokerID(id), Rack: rack, Fenced: fenced}
}

// Each case is one of StripedReplicaPlacerTest's, with its brokers in the
// same order and its expected placements, partition by partition.
func TestRackAwarePlacementMatchesKafka(t *testing.T) {
	for _, tt := range []struct {
		name    string
		brokers []UsableBroker
		rf      int
		want    [][]protocol.BrokerID
	}{
		{"testAvoidFencedReplicaIfPossibleOnSingleRack",
			[]UsableBroker{usable(3, "", false), usable(1, "", true), usable(0, "", false), usable(4, "", false), usable(2, "", false)}, 4,
			[][]protocol.BrokerID{ids(3, 4, 0, 2), ids(4, 0, 2, 3), ids(0, 2, 3, 4), ids(2, 3, 4, 0), ids(0, 4, 3, 2)}},
		{"testPlacementOnFencedReplicaOnSingleRack",
			[]UsableBroker{usable(3, "", false), usable(1, "", true), usable(2, "", false)}, 3,
			[][]protocol.BrokerID{ids(3, 2, 1), ids(2, 3, 1), ids(3, 2, 1), ids(2, 3, 1)}},
		{"testRackListWithMultipleRacks",
			[]UsableBroker{usable(11, "1", false), usable(10, "1", false), usable(30, "3", false), usable(31, "3", false), usable(21, "2", false), usable(20, "2", true)}, 4,
			[][]protocol.BrokerID{ids(11, 21, 31, 10), ids(21, 30, 10, 20), ids(31, 11, 21, 30)}},
		{"testRackListWithInvalidRacks",
			[]UsableBroker{usable(11, "1", false), usable(10, "1", false), usable(30, "3", true), usable(31, "3", true), usable(20, "2", true), usable(21, "2", true), usable(41, "4", false), usable(40, "4", true)}, 4,
			[][]protocol.BrokerID{ids(41, 11, 21, 30), ids(10, 20, 31, 41), ids(41, 21, 30, 11)}},
		{"testSuccessfulPlacement",
			[]UsableBroker{usable(0, "", false), usable(3, "", false), usable(2, "", false), usable(1, "", false)}, 3,
			[][]protocol.BrokerID{ids(2, 3, 0), ids(3, 0, 1), ids(0, 1, 2), ids(1, 2, 3), ids(1, 0, 2)}},
		{"testMultiPartitionTopicPlacementOnSingleUnfencedBroker",
			[]UsableBroker{usable(0, "", false), usable(1, "", true)}, 1,
			[][]protocol.BrokerID{ids(0), ids(0), ids(0)}},
	} {
		got, err := Place(newMockRandom(), tt.brokers, len(tt.want), tt.rf)
		require.NoError(t, err, tt.name)
		assert.Equal(t, tt.want, got, tt.name)
	}
}

// testEvenDistribution: 200 partitions of RF 2 on four brokers, counted by
// replica list.
func TestStripedPlacementSpreadsAsKafkas(t *testing.T) {
	got, err := Place(newMockRandom(), []UsableBroker{usable(0, "", false), usable(1, "", false), usable(2, "", false), usable(3, "", false)}, 200, 2)
	require.NoError(t, err)
	counts := map[[2]protocol.BrokerID]int{}
	for _, r := range got {
		counts[[2]protocol.BrokerID{r[0], r[1]}]++
	}
	assert.Equal(t, map[[2]protocol.BrokerID]int{
		{0, 1}: 14, {0, 2}: 22, {0, 3}: 14, {1, 0}: 17, {1, 2}: 17, {1, 3}: 16,
		{2, 0}: 13, {2, 1}: 17, {2, 3}: 20, {3, 0}: 20, {3, 1}: 19, {3, 2}: 11,
	}, counts)
}

// The placer's hard rules, with Kafka's messages (testAllBrokersFenced,
// testNotEnoughBrokers, testNonPositiveReplicationFactor).
func TestPlacementRefusesWhatKafkaRefuses(t *testing.T) {
	_, err := Place(newMockRandom(), []UsableBroker{usable(11, "1", true), usable(10, "1", true)}, 1, 1)
	assert.EqualError(t, err, "All brokers are currently fenced.")
	_, err = Place(newMockRandom(), []UsableBroker{usable(11, "1", false), usable(10, "1", false)}, 1, 3)
	assert.EqualError(t, err, "The target replication factor of 3 cannot be reached because only 2 broker(s) are registered.")
	_, err = Place(newMockRandom(), []UsableBroker{usable(11, "1", false), usable(10, "1", false)}, 1, 0)
	assert.EqualError(t, err, "Invalid replication factor 0: the replication factor must be positive.")
}

// java.util.Random, as Java computes it: new Random(42).nextInt(10) is 0,
// then 3 (a well-known sequence: 0, 3, 8, 4, 0).
func TestJavaRandomIsJavas(t *testing.T) {
	r := NewJavaRandom(42)
	var got []int
	for range 5 {
		got = append(got, nextInt(r, 10))
	}
	assert.Equal(t, []int{0, 3, 8, 4, 0}, got)
}
