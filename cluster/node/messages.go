package node

import (
	"fmt"

	"github.com/tideline-sim/tideline/sim"
)

// The messages every node may get that are no Kafka request.

// NotController answers a broker's request to a controller that is not
// the active one, naming the one it knows (its node, -1 if none).
type NotController struct {
	Leader  sim.NodeID
	Request sim.Message
}

func (m NotController) AppendSummary(b []byte) []byte {
	b = fmt.Appendf(b, "not-controller leader=%d for ", m.Leader)
	return m.Request.AppendSummary(b)
}

// Terminate is the operator's request that a process stop in order (a
// SIGTERM), handed to it by the world's Signal.
type Terminate struct{}

func (Terminate) AppendSummary(b []byte) []byte { return append(b, "terminate"...) }
