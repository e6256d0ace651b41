package broker

import (
	"time"

	"github.com/tideline-sim/tideline/cluster/metadata"
	"github.com/tideline-sim/tideline/cluster/node"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/cluster/raft"
	"github.com/tideline-sim/tideline/sim"
)

// metadataObserver is a broker's copy of the metadata log, with a
// controller quorum: as KRaft's brokers do, it fetches the log from the
// active controller as an observer (never voting) and applies each record
// once the quorum has committed it. The controller pushes nothing.
type metadataObserver struct {
	log      raft.Log[metadata.State] // from start
	start    int64                    // the entries before it came as the leader's snapshot (KIP-630)
	snap     int32                    // the epoch of the snapshot's last entry
	hw       int64
	epoch    int32
	request  uint64
	backoff  time.Duration
	lastSent sim.NodeID
}

// observing reports whether the broker follows a quorum's metadata log.
func (b *Broker) observing() bool { return len(b.dir.Controllers) > 1 }

func (b *Broker) fetchMetadata() {
	o := &b.meta
	o.request++
	o.lastSent = b.controller
	last := o.snap
	if len(o.log) > 0 {
		last = o.log.LastEpoch()
	}
	b.env.Send(b.controller, raft.FetchRequest{RequestID: o.request, Epoch: o.epoch, Replica: raft.ObserverID(b.id), FetchOffset: o.start + int64(len(o.log)), LastFetchedEpoch: last})
	// Parked up to the leader's max wait; past that and a retransmission,
	// it was lost.
	b.SetTimer(b.env, b.cfg.Quorum.FetchMaxWait+b.cfg.Retransmit, node.Timer{Kind: node.TQuorumFetch, ID: o.request})
}

func (b *Broker) handleMetadataFetchResponse(from sim.NodeID, m raft.FetchResponse[metadata.State]) {
	o := &b.meta
	if m.RequestID != o.request {
		return
	}
	o.epoch = max(o.epoch, m.Epoch)
	if m.Err != protocol.None {
		// Not the leader: fetch from the one it names, or the next one,
		// after a backoff.
		if m.Leader >= 0 {
			b.controller = b.dir.Controllers[m.Leader]
		} else {
			b.controller = b.dir.NextController(from)
		}
		o.backoff = min(max(2*o.backoff, controllerRetryMin), b.cfg.HeartbeatInterval)
		o.request++ // the retransmission timer of the answered fetch is void
		b.SetTimer(b.env, o.backoff, node.Timer{Kind: node.TQuorumFetch, ID: o.request})
		return
	}
	o.backoff = 0
	switch {
	case m.Snapshot != nil:
		// The leader's log starts past this broker's fetch: it loads the
		// snapshot, the state the entries before it left, and fetches on
		// from there (KIP-630).
		o.log, o.start, o.snap = nil, m.Snapshot.End, m.Snapshot.Epoch
		o.hw = o.start
		if st := m.Snapshot.Value; st.Brokers != nil && b.epoch != 0 {
			b.applyImage(st.SharedImage())
		}
	case m.DivergingEpoch >= 0 && m.Entries == nil:
		o.log = o.log[:max(o.log.DivergedEnd(m.DivergingEpoch, m.DivergingEnd-o.start), 0)]
		o.hw = min(o.hw, o.start+int64(len(o.log)))
	case m.Base == o.start+int64(len(o.log)):
		o.log = append(o.log, m.Entries...)
	}
	if hw := min(m.HW, o.start+int64(len(o.log))); hw > o.hw {
		o.hw = hw
		// Before its registration is answered a broker has no part to
		// play: it catches up, and acts on what it applies once registered.
		if st := o.log[hw-1-o.start].Value; st.Brokers != nil && b.epoch != 0 {
			b.applyImage(st.SharedImage()) // a log record's state is never written again
		}
	}
	b.fetchMetadata()
}

// onMetadataTimer re-sends a metadata fetch that went unanswered (to the
// next controller: the one asked may be down) or waited out its backoff.
func (b *Broker) onMetadataTimer(t node.Timer) {
	o := &b.meta
	if t.ID != o.request {
		return
	}
	if o.lastSent == b.controller && o.backoff == 0 {
		b.controller = b.dir.NextController(b.controller)
	}
	b.fetchMetadata()
}

// MetadataImage is the metadata image the broker last applied, and where
// its copy of the metadata log starts (above 0 once it loaded a snapshot).
func (b *Broker) MetadataImage() (protocol.Image, int64) { return b.image, b.meta.start }
