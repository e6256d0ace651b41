package sim

import (
	"strconv"

	"github.com/tideline-sim/tideline/clock"
)

// Connections. Every message travels on a connection from its sender to
// its receiver, as Kafka's requests travel over TCP. A connection is bound
// to the receiver's incarnation when it is opened (the first message after
// none was open): if the receiver's process dies or restarts, whatever is
// sent on the old connection is refused, not handed to the new process,
// and the receiver's host answers with a reset — unless the host lost
// power, which leaves the sender to time out. The sender's connection is
// closed when the reset reaches it; its next message opens a new one.
//
// That gives clients what TCP gives Kafka's clients: a dead broker process
// is noticed at once (connection refused or reset), a partitioned or
// powered-off broker only by a timeout.

// ConnectionReset tells a node that its connection to Peer was reset: Peer
// refused or dropped what was sent on it. It is delivered like a message
// from Peer.
type ConnectionReset struct{ Peer NodeID }

func (m ConnectionReset) AppendSummary(b []byte) []byte {
	return strconv.AppendInt(append(b, "connection-reset by "...), int64(m.Peer), 10)
}

// connection is one sender's connection to one receiver.
type connection struct {
	inc         uint32     // the receiver incarnation it is bound to; 0: none open
	lastArrival clock.Time // when the last message sent on it lands, for FIFO delivery
}

// conn returns n's connection to a receiver.
func (n *nodeState) conn(to NodeID) *connection {
	for int(to) >= len(n.conns) {
		n.conns = append(n.conns, connection{})
	}
	return &n.conns[to]
}

// refuse answers a message that reached a dead or restarted process on its
// old connection: the receiver's host resets the connection, unless it has
// no power.
func (w *World) refuse(receiver, sender NodeID) {
	if w.nodes[receiver].poweredOff || !w.nodes[sender].up {
		return
	}
	w.sendAs(receiver, sender, w.nodes[sender].inc, ConnectionReset{Peer: receiver})
}

// closeConnection is the reset reaching the sender: its connection to peer
// is closed, and the next message opens a new one.
func (w *World) closeConnection(n *nodeState, peer NodeID) {
	if int(peer) < len(n.conns) {
		n.conns[peer].inc = 0
	}
}
