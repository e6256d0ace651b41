package cluster_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/cluster"
	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/sim"
)

// placed builds a 6-broker cluster with the given racks and placement and
// returns each partition's replicas as the controller created them.
func placed(t *testing.T, seed int, racks []string, how config.Placement) [][]protocol.BrokerID {
	r := newRun(t, setup{seed: sim.Seed(seed), duration: 2 * time.Second, brokers: 6, rf: 3, parts: 6, minISR: 2, acks: -1, rate: 10,
		configure: func(s *cluster.Spec) { s.Racks, s.Broker.Placement = racks, how }})
	r.execute()
	var out [][]protocol.BrokerID
	for _, tp := range r.c.Partitions() {
		st := r.c.State(tp)
		require.Equal(t, st.Replicas[0], st.Leader, "%v: the first replica leads a new partition", tp)
		out = append(out, st.Replicas)
	}
	return out
}

// With broker.rack set, the KRaft controller's StripedReplicaPlacer puts
// each partition's replicas in distinct racks (RF = racks) and spreads the
// leaders over the brokers — on every seed, whatever its random offsets.
func TestStripedPlacementPutsReplicasInDistinctRacks(t *testing.T) {
	racks := []string{"a", "b", "c", "a", "b", "c"}
	for seed := 1; seed <= 5; seed++ {
		leaders := map[protocol.BrokerID]int{}
		for _, replicas := range placed(t, seed, racks, config.PlacementDefault) {
			var in []string
			for _, b := range replicas {
				in = append(in, racks[b])
			}
			slices.Sort(in)
			assert.Equal(t, []string{"a", "b", "c"}, in, "seed %d: replicas %v", seed, replicas)
			leaders[replicas[0]]++
		}
		assert.Len(t, leaders, 6, "seed %d: every broker leads one partition", seed)
	}
}

// Rack-unaware placement (no broker.rack given to the placer) makes each
// partition a window of consecutive brokers: with the brokers numbered by
// zone (a a b b c c), two of six partitions have two replicas in zone a.
func TestRackUnawarePlacementCanDoubleUpInAZone(t *testing.T) {
	racks := []string{"a", "a", "b", "b", "c", "c"}
	for seed := 1; seed <= 5; seed++ {
		doubled := 0
		for _, replicas := range placed(t, seed, racks, config.PlacementRackUnaware) {
			inA := 0
			for _, b := range replicas {
				if racks[b] == "a" {
					inA++
				}
			}
			if inA == 2 {
				doubled++
			}
		}
		assert.Equal(t, 2, doubled, "seed %d", seed)
	}
}
