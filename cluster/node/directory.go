package node

import (
	"slices"

	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/sim"
)

// Directory is the static address book every node is configured with:
// where the controllers are (controller.quorum.voters) and which node each
// broker ID runs on (bootstrap.servers).
type Directory struct {
	Controller  sim.NodeID   // the first controller: where brokers first look for the active one
	Controllers []sim.NodeID // every controller, by index
	Brokers     []sim.NodeID // indexed by BrokerID
}

// NextController is the controller after n, for a broker that got no answer.
func (d Directory) NextController(n sim.NodeID) sim.NodeID {
	if len(d.Controllers) == 0 {
		return d.Controller
	}
	i := slices.Index(d.Controllers, n)
	return d.Controllers[(i+1)%len(d.Controllers)]
}

// Node is where broker b runs.
func (d Directory) Node(b protocol.BrokerID) sim.NodeID { return d.Brokers[b] }

// BrokerOf is the broker that runs on n, if any.
func (d Directory) BrokerOf(n sim.NodeID) (protocol.BrokerID, bool) {
	i := slices.Index(d.Brokers, n)
	return protocol.BrokerID(i), i >= 0
}
