package node

import (
	"fmt"

	"github.com/tideline-sim/tideline/sim"
)

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
