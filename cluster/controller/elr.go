package controller

import (
	"fmt"
	"slices"

	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/protocol"
)

// Eligible leader replicas (KIP-966), on with
// eligible.leader.replicas.version=1. Since Kafka 3.7 the high watermark
// does not move while the ISR is below min.insync.replicas, so a replica
// that leaves the ISR then still holds every committed record: it becomes
// an eligible leader replica, and may be elected cleanly when the ISR is
// empty — which, with ELR on, it may now become (no "last replica
// standing"). Rules: anchors/kraft-and-elr.md, from Kafka's
// PartitionChangeBuilder and ReplicationControlManager.

// minISR is a topic's min.insync.replicas.
func (c *Controller) minISR(topic string) int {
	for _, t := range c.topics {
		if t.Name == topic && t.MinInsyncReplicas != nil {
			return *t.MinInsyncReplicas
		}
	}
	return c.cfg.MinInsyncReplicas
}

// setISR changes a partition's ISR and, with ELR on, recomputes its
// eligible leader replicas as PartitionChangeBuilder.maybePopulateTargetElr
// does: an ISR at min.insync.replicas clears them; below, every replica
// that was in the ISR or the ELR and is not in the new ISR is eligible.
func (c *Controller) setISR(p *protocol.PartitionState, isr []protocol.BrokerID) {
	old := p.ISR
	p.ISR = isr
	if !c.cfg.ELR {
		return
	}
	if len(isr) >= min(c.minISR(p.TP.Topic), len(p.Replicas)) {
		p.ELR, p.LastKnownELR = nil, nil
		return
	}
	var elr []protocol.BrokerID
	for _, r := range p.Replicas { // assignment order
		if (slices.Contains(p.ELR, r) || slices.Contains(old, r)) && !slices.Contains(isr, r) {
			elr = append(elr, r)
		}
	}
	p.ELR = elr
	if len(isr) == 0 && len(old) > 0 && p.Leader != protocol.NoLeader {
		p.LastKnownELR = []protocol.BrokerID{p.Leader} // the last leader, kept while the ISR is empty
	}
}

// electFromELR elects, with the ISR empty, the first acceptable eligible
// leader replica (clean: it holds every committed record), or failing
// that, with no eligible replica left, the last known leader (unclean).
// It reports the leader and the kind of election, or NoLeader.
func (c *Controller) electFromELR(p *protocol.PartitionState) (protocol.BrokerID, journal.EventKind) {
	for _, r := range p.Replicas {
		if slices.Contains(p.ELR, r) && c.eligible(r) {
			p.ELR = slices.DeleteFunc(slices.Clone(p.ELR), func(x protocol.BrokerID) bool { return x == r })
			p.ISR = []protocol.BrokerID{r}
			return r, journal.EvELRElected
		}
	}
	if len(p.ELR) == 0 && len(p.LastKnownELR) > 0 && c.eligible(p.LastKnownELR[0]) {
		r := p.LastKnownELR[0]
		p.ISR = []protocol.BrokerID{r}
		return r, journal.EvUncleanElected
	}
	return protocol.NoLeader, journal.EvOffline
}

// forgetUnclean takes a broker that registered again after an unclean
// shutdown (a crash or power loss: no clean-shutdown marker) out of every
// ISR and ELR: its log may have lost what made it eligible.
func (c *Controller) forgetUnclean(b protocol.BrokerID) {
	for i := range c.st.Partitions.Len() {
		p := c.st.Partitions.At(i)
		if !slices.Contains(p.ISR, b) && !slices.Contains(p.ELR, b) {
			continue
		}
		detail := fmt.Sprintf("isr %v elr %v -> ", p.ISR, p.ELR)
		p.ELR = slices.DeleteFunc(slices.Clone(p.ELR), func(x protocol.BrokerID) bool { return x == b })
		c.setISR(&p, slices.DeleteFunc(slices.Clone(p.ISR), func(x protocol.BrokerID) bool { return x == b }))
		if p.Leader == b {
			c.electInto(&p, journal.EvElected)
		}
		p.PartitionEpoch++
		c.st.Partitions.Set(i, p)
		c.partitionEvent(journal.EvISRShrink, p, b, detail+fmt.Sprintf("isr %v elr %v (broker %d registered after an unclean shutdown)", p.ISR, p.ELR, b))
	}
}
