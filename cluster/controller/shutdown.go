package controller

import (
	"fmt"
	"slices"

	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/protocol"
)

// Controlled shutdown in KRaft (anchors/operations-and-clients.md §1): a
// broker that wants to stop says so in its heartbeats; the controller
// moves its leaderships to other ISR members and takes it out of every ISR
// (ReplicationControlManager.handleBrokerInControlledShutdown), and lets it
// go once it leads nothing and every active broker has seen that
// (BrokerHeartbeatManager.calculateNextBrokerState), fencing it then.

// controlledShutdown answers a heartbeat with WantShutDown, by the broker's
// state: FENCED → SHUTDOWN_NOW; UNFENCED → CONTROLLED_SHUTDOWN if it leads
// a partition, else SHUTDOWN_NOW; CONTROLLED_SHUTDOWN → SHUTDOWN_NOW once it
// leads nothing and its peers caught up with the change.
func (c *Controller) controlledShutdown(b protocol.BrokerID) protocol.BrokerHeartbeatResponse {
	rec := &c.st.Brokers[b]
	switch {
	case rec.Fenced:
		return protocol.BrokerHeartbeatResponse{Fenced: true, ShouldShutDown: true}
	case !rec.InControlledShutdown && c.leads(b):
		c.beginControlledShutdown(b)
		return protocol.BrokerHeartbeatResponse{}
	case rec.InControlledShutdown && (c.leads(b) || !c.peersCaughtUp(b)):
		return protocol.BrokerHeartbeatResponse{}
	}
	c.fence(b, "its controlled shutdown is done")
	c.commit()
	return protocol.BrokerHeartbeatResponse{Fenced: true, ShouldShutDown: true}
}

// leads reports whether b leads any partition.
func (c *Controller) leads(b protocol.BrokerID) bool {
	for _, p := range c.st.Partitions.All() {
		if p.Leader == b {
			return true
		}
	}
	return false
}

// beginControlledShutdown marks b as shutting down and, in the same
// commit, takes it out of every ISR and moves every leadership it holds to
// the first other ISR member that is active. Without ELR the ISR is never
// written empty: where b is the last member it stays, and the partition
// has no leader until b returns; with ELR the ISR empties and b becomes an
// eligible leader replica.
func (c *Controller) beginControlledShutdown(b protocol.BrokerID) {
	c.st.Brokers[b].InControlledShutdown = true
	c.event(journal.Event{Kind: journal.EvControlledShutdown, Leader: protocol.NoLeader, Broker: b,
		Detail: fmt.Sprintf("broker %d asked to shut down: it leaves every ISR and its leaderships move", b)})
	for i := range c.st.Partitions.Len() {
		p := c.st.Partitions.At(i)
		if !p.InISR(b) {
			continue
		}
		detail := fmt.Sprintf("isr %v -> ", p.ISR)
		isr := slices.DeleteFunc(slices.Clone(p.ISR), func(r protocol.BrokerID) bool { return r == b })
		if len(isr) > 0 || c.cfg.ELR {
			c.setISR(&p, isr)
		}
		if p.Leader == b {
			c.electInto(&p, journal.EvShutdownElected)
		} else {
			c.partitionEvent(journal.EvISRShrink, p, b, detail+fmt.Sprint(p.ISR)+fmt.Sprintf(" (broker %d in controlled shutdown)", b))
		}
		p.PartitionEpoch++
		c.st.Partitions.Set(i, p)
	}
	c.commit()
	c.shutdownAt[b] = c.st.Version
}

// peersCaughtUp reports whether every active broker other than b has
// reported metadata at least as new as the change that began b's
// controlled shutdown: until then a peer may still send b's old
// leaderships its requests.
func (c *Controller) peersCaughtUp(b protocol.BrokerID) bool {
	for r, rec := range c.st.Brokers {
		if protocol.BrokerID(r) != b && rec.Registered && !rec.Fenced && !rec.InControlledShutdown && c.reported[r] < c.shutdownAt[b] {
			return false
		}
	}
	return true
}
