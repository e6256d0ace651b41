package broker

import (
	"fmt"
	"time"

	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/node"
	"github.com/tideline-sim/tideline/cluster/protocol"
)

// An orderly stop, as Kafka's BrokerServer.shutdown does it
// (anchors/operations-and-clients.md §1): with controlled.shutdown.enable,
// the broker first asks the controller to move its leaderships away
// (BrokerLifecycleManager's PENDING_CONTROLLED_SHUTDOWN: a heartbeat at
// once with WantShutDown, again 50 ms later, then at the usual interval)
// and waits for ShouldShutDown, or its shutdown deadline; then it flushes
// every log, writes the HW checkpoint and the clean-shutdown marker, syncs
// them, and exits. The next start finds the marker and is clean.

// cleanShutdownFile is Kafka's .kafka_cleanshutdown: written last at a
// clean stop, deleted first at start.
const cleanShutdownFile = ".kafka_cleanshutdown"

// cleanShutdown is the marker's content (CleanShutdownFileHandler: the
// broker epoch it stopped with).
type cleanShutdown struct{ BrokerEpoch int64 }

// shutdownSecondHeartbeat is BrokerLifecycleManager's delay before the
// second controlled-shutdown heartbeat.
const shutdownSecondHeartbeat = 50 * time.Millisecond

// terminate begins an orderly stop (the process got node.Terminate); the
// broker exits from one of its handlers when the stop is done.
func (b *Broker) terminate() {
	if b.stopping {
		return
	}
	b.stopping = true
	if !b.cfg.ControlledShutdown || b.epoch == 0 {
		// Not registered, or no controlled shutdown: straight to the stop.
		b.stop(false)
		return
	}
	b.heartbeat()
	b.SetTimer(b.env, shutdownSecondHeartbeat, node.Timer{Kind: node.TShutdownHeartbeat})
	b.SetTimer(b.env, b.cfg.ShutdownTimeout, node.Timer{Kind: node.TShutdown})
}

// heartbeat sends the broker's heartbeat, asking to shut down while it
// stops.
func (b *Broker) heartbeat() {
	b.toController(protocol.BrokerHeartbeat{Broker: b.id, BrokerEpoch: b.epoch, MetadataVersion: b.image.Version, WantShutDown: b.stopping})
}

// stop is the end of an orderly stop: every log and the HW checkpoint
// synced, then the marker, then the process exits. timedOut says the
// controller never let it go ("Timed out waiting for the controller to
// approve controlled shutdown"): Kafka stops cleanly all the same.
func (b *Broker) stop(timedOut bool) {
	if timedOut {
		b.event(journal.Event{Kind: journal.EvShutdownTimedOut, Broker: b.id, Leader: protocol.NoLeader,
			Detail: fmt.Sprintf("broker %d timed out after %v waiting for the controller to approve its controlled shutdown", b.id, b.cfg.ShutdownTimeout)})
	}
	for _, r := range b.order {
		r.log.Close()
	}
	b.writeHWCheckpoint()
	f := b.env.Disk().Open(cleanShutdownFile)
	f.Truncate(0)
	f.Append(cleanShutdown{BrokerEpoch: b.epoch})
	f.Sync()
	b.env.Exit()
}

// readCleanShutdown deletes the marker, as LogManager.loadLogs does before
// loading (a crash while loading is unclean), and returns the broker epoch
// it held, or -1 when the last stop was not clean.
func (b *Broker) readCleanShutdown() int64 {
	disk := b.env.Disk()
	if !disk.Exists(cleanShutdownFile) {
		return -1
	}
	f := disk.Open(cleanShutdownFile)
	epoch := int64(-1)
	if f.Len() > 0 {
		epoch = f.Record(f.Len() - 1).(cleanShutdown).BrokerEpoch
	}
	disk.Remove(cleanShutdownFile)
	return epoch
}
