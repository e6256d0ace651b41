package report

import (
	"bufio"
	"io"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/runner"
	"github.com/tideline-sim/tideline/sim"
)

// Perfetto writes a run in Perfetto's own trace format (a protobuf
// Trace of TracePackets carrying TrackDescriptors and TrackEvents, the
// format ui.perfetto.dev opens natively): one process per node (broker,
// controller, client) with a "messages" thread where each message is an
// instant at its sending and one at its receipt, joined by a flow, and a
// thread per partition it led with its leaderships as slices; a faults
// process with each fault window on a track of its own; a partitions
// process with the ISR size (and ELR size) and the leader's high watermark
// as counters. Nothing is left out: every message delivered or dropped is
// there, with its text. Event and annotation names are interned, so a
// message costs about 90 bytes (the Chrome JSON this replaced took 380).
//
// Messages are written as the run goes (Message, from the run's trace
// entries), the rest when it is over (Finish): a long run's messages are
// never held.
type Perfetto struct{ p *perfettoWriter }

// NewPerfetto starts a Perfetto trace on w.
func NewPerfetto(w io.Writer) *Perfetto {
	p := &perfettoWriter{out: bufio.NewWriterSize(w, 64<<10), names: map[string]uint64{}, annotations: map[string]uint64{},
		processes: map[string]*perfettoProcess{}, nextUUID: 1}
	p.flags = seqIncrementalStateCleared
	p.process("faults")
	p.process("partitions")
	return &Perfetto{p}
}

// Message adds a message delivered or dropped.
func (pt *Perfetto) Message(e *sim.TraceEntry) {
	p := pt.p
	kind, _, _ := strings.Cut(e.What, " ")
	kind, _, _ = strings.Cut(kind, "#")
	flow := uint64(e.I) // unique per event
	from, to := p.process(e.From).messages(p), p.process(e.Node).messages(p)
	p.event(e.Sent, trackEvent{kind: typeInstant, track: from, name: kind, flow: flow})
	name := kind
	if e.Kind == "drop" {
		name = "dropped " + kind
	}
	p.event(e.T, trackEvent{kind: typeInstant, track: to, name: name, endFlow: flow,
		annotations: [2]annotation{{"from", e.From}, {"message", e.What}}})
}

// Finish adds what the run's result holds (leaderships, faults, counters)
// and flushes the trace.
func (pt *Perfetto) Finish(r *runner.Result) error {
	p := pt.p
	faults, partitions := p.process("faults"), p.process("partitions")

	// Leaderships: from becoming leader to becoming follower or going down.
	var tps []protocol.TopicPartition
	for _, f := range r.Final {
		tps = append(tps, f.TP)
	}
	type leading struct {
		node string
		tp   protocol.TopicPartition
	}
	open := map[leading]bool{}
	end := func(node string, tp protocol.TopicPartition, at clock.Time) {
		if open[leading{node, tp}] {
			delete(open, leading{node, tp})
			p.event(at, trackEvent{kind: typeSliceEnd, track: p.process(node).thread(p, "leads "+tp.String())})
		}
	}
	for _, e := range r.Journal {
		switch e.Kind {
		case journal.EvBecameLeader:
			end(e.Node, e.TP, e.Time)
			open[leading{e.Node, e.TP}] = true
			p.event(e.Time, trackEvent{kind: typeSliceBegin, track: p.process(e.Node).thread(p, "leads "+e.TP.String()),
				name: "leader " + e.TP.String(), annotations: [2]annotation{{"epoch", strconv.Itoa(int(e.Epoch))}}})
		case journal.EvBecameFollower, journal.EvReplicaDeleted:
			end(e.Node, e.TP, e.Time)
		case journal.EvCrashed, journal.EvPowerLoss, journal.EvStopped:
			for _, tp := range tps {
				end(e.Node, tp, e.Time)
			}
		}
	}
	for _, name := range p.order {
		for _, tp := range tps {
			end(name, tp, clock.At(r.Duration))
		}
	}

	// Faults: a window on a track of its own (they overlap), an instant
	// on the process's track.
	for _, f := range r.Faults {
		hit := annotation{"hit", f.Hit}
		if !f.Window() {
			p.event(clock.At(f.At), trackEvent{kind: typeInstant, track: faults.uuid, name: f.Text, annotations: [2]annotation{hit}})
			continue
		}
		track := p.track(trackDescriptor{parent: faults.uuid, name: f.Text})
		p.event(clock.At(f.At), trackEvent{kind: typeSliceBegin, track: track, name: f.Text, annotations: [2]annotation{hit}})
		p.event(clock.At(f.Until), trackEvent{kind: typeSliceEnd, track: track})
	}

	// Counters: ISR size per partition (and, with KIP-966, ELR size), and
	// the leader's high watermark.
	counters := map[string]uint64{}
	counter := func(name string, at clock.Time, v int64) {
		track, ok := counters[name]
		if !ok {
			track = p.track(trackDescriptor{parent: partitions.uuid, name: name, counter: true})
			counters[name] = track
		}
		p.event(at, trackEvent{kind: typeCounter, track: track, value: v})
	}
	leader := map[protocol.TopicPartition]protocol.BrokerID{}
	for _, f := range r.Final {
		if len(f.State.Replicas) > 0 {
			leader[f.TP] = f.State.Replicas[0]
			counter("isr "+f.TP.String(), 0, int64(len(f.State.Replicas)))
		}
	}
	events, samples := r.Journal, r.HWSamples
	for len(events) > 0 || len(samples) > 0 {
		if len(events) > 0 && (len(samples) == 0 || events[0].Time <= samples[0].Time) {
			e := events[0]
			events = events[1:]
			if e.ISR != nil && e.TP.Topic != "" {
				leader[e.TP] = e.Leader
				counter("isr "+e.TP.String(), e.Time, int64(len(e.ISR)))
				if r.Scenario.Cluster.Broker.ELR {
					counter("elr "+e.TP.String(), e.Time, int64(len(e.ELR)))
				}
			}
			continue
		}
		s := samples[0]
		samples = samples[1:]
		if leader[s.TP] == s.Broker {
			counter("high watermark "+s.TP.String(), s.Time, s.HW)
		}
	}
	if p.err != nil {
		return p.err
	}
	return p.out.Flush()
}

// Field numbers of Perfetto's trace protos (protos/perfetto/trace/...).
const (
	fTracePacket = 1 // Trace.packet

	fPacketTimestamp       = 8
	fPacketSequenceID      = 10 // trusted_packet_sequence_id
	fPacketTrackEvent      = 11
	fPacketInternedData    = 12
	fPacketSequenceFlags   = 13
	fPacketTrackDescriptor = 60

	fTrackUUID    = 1
	fTrackName    = 2
	fTrackProcess = 3
	fTrackThread  = 4
	fTrackParent  = 5
	fTrackCounter = 8

	fProcessPID  = 1
	fProcessName = 6
	fThreadPID   = 1
	fThreadTID   = 2
	fThreadName  = 5

	fEventAnnotations = 4
	fEventType        = 9
	fEventNameIID     = 10
	fEventTrackUUID   = 11
	fEventCounter     = 30
	fEventFlow        = 47
	fEventEndFlow     = 48

	fAnnotationNameIID = 1
	fAnnotationString  = 6

	fInternedEventNames      = 2
	fInternedAnnotationNames = 3
	fInternedIID             = 1
	fInternedName            = 2

	seqIncrementalStateCleared = 1
	seqNeedsIncrementalState   = 2

	typeSliceBegin = 1
	typeSliceEnd   = 2
	typeInstant    = 3
	typeCounter    = 4

	perfettoSequence = 1 // every packet is on one sequence
)

// perfettoWriter writes TracePackets one by one, interning names.
type perfettoWriter struct {
	out         *bufio.Writer
	err         error
	flags       uint64 // the next packet's sequence flags
	names       map[string]uint64
	annotations map[string]uint64
	processes   map[string]*perfettoProcess
	order       []string // process names in order of first mention
	nextUUID    uint64
	nextPID     uint64
	head        []byte // scratch buffers, reused
	packet      []byte
	body        []byte
	interned    []byte
	annotation  []byte
}

// perfettoProcess is a node's process track and its thread tracks.
type perfettoProcess struct {
	pid, uuid     uint64
	threads       map[string]uint64
	tids          uint64
	messagesTrack uint64 // the "messages" thread's track, once described
}

type trackDescriptor struct {
	parent  uint64
	name    string
	counter bool
}

type annotation struct{ name, value string }

type trackEvent struct {
	kind          uint64
	track         uint64
	name          string
	flow, endFlow uint64        // 0: none
	value         int64         // counters
	annotations   [2]annotation // an event has at most two; unnamed ones are none
}

// process returns the process named name, describing it the first time.
func (p *perfettoWriter) process(name string) *perfettoProcess {
	if pr := p.processes[name]; pr != nil {
		return pr
	}
	p.nextPID++
	pr := &perfettoProcess{pid: p.nextPID, uuid: p.nextUUID, threads: map[string]uint64{}}
	p.nextUUID++
	p.processes[name] = pr
	p.order = append(p.order, name)
	proc := protowire.AppendTag(nil, fProcessPID, protowire.VarintType)
	proc = protowire.AppendVarint(proc, pr.pid)
	proc = appendString(proc, fProcessName, name)
	desc := protowire.AppendTag(nil, fTrackUUID, protowire.VarintType)
	desc = protowire.AppendVarint(desc, pr.uuid)
	desc = protowire.AppendTag(desc, fTrackProcess, protowire.BytesType)
	desc = protowire.AppendBytes(desc, proc)
	p.descriptor(desc)
	return pr
}

// messages is the process's "messages" thread, kept once described: it is
// looked up twice for every message.
func (pr *perfettoProcess) messages(p *perfettoWriter) uint64 {
	if pr.messagesTrack == 0 {
		pr.messagesTrack = pr.thread(p, "messages")
	}
	return pr.messagesTrack
}

// thread returns the process's thread track named name, describing it the
// first time. Thread ids are unique across processes, as in Linux.
func (pr *perfettoProcess) thread(p *perfettoWriter, name string) uint64 {
	if uuid, ok := pr.threads[name]; ok {
		return uuid
	}
	pr.tids++
	uuid := p.nextUUID
	p.nextUUID++
	pr.threads[name] = uuid
	th := protowire.AppendTag(nil, fThreadPID, protowire.VarintType)
	th = protowire.AppendVarint(th, pr.pid)
	th = protowire.AppendTag(th, fThreadTID, protowire.VarintType)
	th = protowire.AppendVarint(th, pr.pid*1000+pr.tids)
	th = appendString(th, fThreadName, name)
	desc := protowire.AppendTag(nil, fTrackUUID, protowire.VarintType)
	desc = protowire.AppendVarint(desc, uuid)
	desc = protowire.AppendTag(desc, fTrackThread, protowire.BytesType)
	desc = protowire.AppendBytes(desc, th)
	p.descriptor(desc)
	return uuid
}

// track describes a track of its own (a fault window, a counter).
func (p *perfettoWriter) track(t trackDescriptor) uint64 {
	uuid := p.nextUUID
	p.nextUUID++
	desc := protowire.AppendTag(nil, fTrackUUID, protowire.VarintType)
	desc = protowire.AppendVarint(desc, uuid)
	desc = protowire.AppendTag(desc, fTrackParent, protowire.VarintType)
	desc = protowire.AppendVarint(desc, t.parent)
	desc = appendString(desc, fTrackName, t.name)
	if t.counter {
		desc = protowire.AppendTag(desc, fTrackCounter, protowire.BytesType)
		desc = protowire.AppendBytes(desc, nil) // a CounterDescriptor with defaults
	}
	p.descriptor(desc)
	return uuid
}

func (p *perfettoWriter) descriptor(desc []byte) {
	b := p.header(p.packet[:0], -1)
	b = protowire.AppendTag(b, fPacketTrackDescriptor, protowire.BytesType)
	p.packet = protowire.AppendBytes(b, desc)
	p.flush()
}

// header starts a packet: its timestamp (none if at < 0), sequence and
// flags.
func (p *perfettoWriter) header(b []byte, at clock.Time) []byte {
	if at >= 0 {
		b = protowire.AppendTag(b, fPacketTimestamp, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(at))
	}
	b = protowire.AppendTag(b, fPacketSequenceID, protowire.VarintType)
	b = protowire.AppendVarint(b, perfettoSequence)
	if p.flags != 0 {
		b = protowire.AppendTag(b, fPacketSequenceFlags, protowire.VarintType)
		b = protowire.AppendVarint(b, p.flags)
		p.flags = 0
	}
	return b
}

// intern returns name's id in table, adding it to the packet's interned
// data the first time.
func (p *perfettoWriter) intern(table map[string]uint64, field protowire.Number, name string) uint64 {
	if iid, ok := table[name]; ok {
		return iid
	}
	iid := uint64(len(table) + 1)
	table[name] = iid
	entry := protowire.AppendTag(nil, fInternedIID, protowire.VarintType)
	entry = protowire.AppendVarint(entry, iid)
	entry = appendString(entry, fInternedName, name)
	p.interned = protowire.AppendTag(p.interned, field, protowire.BytesType)
	p.interned = protowire.AppendBytes(p.interned, entry)
	return iid
}

// event writes one TrackEvent at a time.
func (p *perfettoWriter) event(at clock.Time, e trackEvent) {
	p.interned = p.interned[:0]
	b := protowire.AppendTag(p.body[:0], fEventType, protowire.VarintType)
	b = protowire.AppendVarint(b, e.kind)
	b = protowire.AppendTag(b, fEventTrackUUID, protowire.VarintType)
	b = protowire.AppendVarint(b, e.track)
	if e.name != "" {
		b = protowire.AppendTag(b, fEventNameIID, protowire.VarintType)
		b = protowire.AppendVarint(b, p.intern(p.names, fInternedEventNames, e.name))
	}
	if e.kind == typeCounter {
		b = protowire.AppendTag(b, fEventCounter, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(e.value))
	}
	if e.flow != 0 {
		b = protowire.AppendTag(b, fEventFlow, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, e.flow)
	}
	if e.endFlow != 0 {
		b = protowire.AppendTag(b, fEventEndFlow, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, e.endFlow)
	}
	for _, a := range e.annotations {
		if a.name == "" {
			break
		}
		ann := protowire.AppendTag(p.annotation[:0], fAnnotationNameIID, protowire.VarintType)
		ann = protowire.AppendVarint(ann, p.intern(p.annotations, fInternedAnnotationNames, a.name))
		ann = appendString(ann, fAnnotationString, a.value)
		b = protowire.AppendTag(b, fEventAnnotations, protowire.BytesType)
		b = protowire.AppendBytes(b, ann)
		p.annotation = ann
	}
	p.body = b
	p.flags |= seqNeedsIncrementalState
	pk := p.header(p.packet[:0], max(at, 0))
	if len(p.interned) > 0 {
		pk = protowire.AppendTag(pk, fPacketInternedData, protowire.BytesType)
		pk = protowire.AppendBytes(pk, p.interned)
	}
	pk = protowire.AppendTag(pk, fPacketTrackEvent, protowire.BytesType)
	p.packet = protowire.AppendBytes(pk, p.body)
	p.flush()
}

// flush writes the packet in p.packet as one Trace.packet field.
func (p *perfettoWriter) flush() {
	if p.err != nil {
		return
	}
	p.head = protowire.AppendTag(p.head[:0], fTracePacket, protowire.BytesType)
	p.head = protowire.AppendVarint(p.head, uint64(len(p.packet)))
	if _, p.err = p.out.Write(p.head); p.err == nil {
		_, p.err = p.out.Write(p.packet)
	}
}

func appendString(b []byte, field protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, field, protowire.BytesType)
	return protowire.AppendString(b, s)
}
