package report

import (
	"bufio"
	"encoding/json"
	"io"
	"slices"
	"strings"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster"
	"github.com/tideline-sim/tideline/runner"
	"github.com/tideline-sim/tideline/sim"
)

// traceEvent is one Chrome trace event, the format Perfetto's viewer
// opens. Times are microseconds.
type traceEvent struct {
	Name    string         `json:"name"`
	Cat     string         `json:"cat,omitempty"`
	Ph      string         `json:"ph"`
	Ts      float64        `json:"ts"`
	Dur     *float64       `json:"dur,omitempty"`
	Pid     int            `json:"pid"`
	Tid     int            `json:"tid"`
	ID      string         `json:"id,omitempty"`
	BindID  string         `json:"bind_id,omitempty"`
	FlowIn  bool           `json:"flow_in,omitempty"`
	FlowOut bool           `json:"flow_out,omitempty"`
	Args    map[string]any `json:"args,omitempty"`
}

// Threads of a node's process in the trace.
const (
	tidMessages   = 1  // every message received or sent, joined by flows
	tidLeadership = 10 // + the partition's index: the leadership slices
)

func micros(t clock.Time) float64 { return float64(t) / 1000 }

var zero = 0.0

// Perfetto writes the run as Chrome trace events: one process per node
// (broker, controller, client) with its messages as slices joined by flows
// from send to receipt and its leaderships as slices; a faults process with
// crashes, pauses and partitions as async slices; a partitions process with
// the ISR size and the leader's high watermark as counters.
func Perfetto(w io.Writer, r *runner.Result, trace []sim.TraceEntry) error {
	out := bufio.NewWriter(w)
	enc := json.NewEncoder(out)
	if _, err := out.WriteString("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n"); err != nil {
		return err
	}
	first := true
	emit := func(e traceEvent) {
		if !first {
			out.WriteString(",")
		}
		first = false
		_ = enc.Encode(e) // errors surface at Flush
	}

	// Processes: nodes in the order of the trace's first mention.
	pids := map[string]int{}
	var names []string
	pid := func(node string) int {
		if p, ok := pids[node]; ok {
			return p
		}
		p := len(pids) + 1
		pids[node] = p
		names = append(names, node)
		return p
	}
	for _, e := range trace {
		if e.Node != "" {
			pid(e.Node)
		}
	}
	faultsPid, countersPid := len(pids)+1, len(pids)+2
	for _, n := range names {
		emit(traceEvent{Name: "process_name", Ph: "M", Pid: pids[n], Args: map[string]any{"name": n}})
		emit(traceEvent{Name: "thread_name", Ph: "M", Pid: pids[n], Tid: tidMessages, Args: map[string]any{"name": "messages"}})
	}
	emit(traceEvent{Name: "process_name", Ph: "M", Pid: faultsPid, Args: map[string]any{"name": "faults"}})
	emit(traceEvent{Name: "process_name", Ph: "M", Pid: countersPid, Args: map[string]any{"name": "partitions"}})

	// Messages: a zero-length slice where each was sent and where it
	// arrived, bound by a flow.
	for _, e := range trace {
		if e.Kind != "deliver" && e.Kind != "drop" {
			continue
		}
		kind, _, _ := strings.Cut(e.What, " ")
		kind, _, _ = strings.Cut(kind, "#")
		id := e.Hash // unique per event
		emit(traceEvent{Name: kind, Cat: "message", Ph: "X", Ts: micros(e.Sent), Dur: &zero, Pid: pid(e.From), Tid: tidMessages,
			BindID: id, FlowOut: true})
		name := kind
		if e.Kind == "drop" {
			name = "dropped " + kind
		}
		emit(traceEvent{Name: name, Cat: "message", Ph: "X", Ts: micros(e.T), Dur: &zero, Pid: pid(e.Node), Tid: tidMessages,
			BindID: id, FlowIn: true, Args: map[string]any{"from": e.From, "message": e.What}})
	}

	// Leaderships: from becoming leader to becoming follower or going down.
	var tps []cluster.TopicPartition
	for _, f := range r.Final {
		tps = append(tps, f.TP)
	}
	type open struct {
		since clock.Time
		epoch int32
	}
	leading := map[string]map[cluster.TopicPartition]open{}
	closeSlice := func(node string, tp cluster.TopicPartition, at clock.Time) {
		o, ok := leading[node][tp]
		if !ok {
			return
		}
		delete(leading[node], tp)
		dur := micros(at) - micros(o.since)
		i := slices.Index(tps, tp)
		emit(traceEvent{Name: "leader " + tp.String(), Cat: "leadership", Ph: "X", Ts: micros(o.since), Dur: &dur, Pid: pid(node), Tid: tidLeadership + i,
			Args: map[string]any{"epoch": o.epoch}})
	}
	threadNamed := map[string]bool{}
	for _, e := range r.Journal {
		switch e.Kind {
		case cluster.EvBecameLeader:
			closeSlice(e.Node, e.TP, e.Time)
			if leading[e.Node] == nil {
				leading[e.Node] = map[cluster.TopicPartition]open{}
			}
			leading[e.Node][e.TP] = open{e.Time, e.Epoch}
			key := e.Node + " " + e.TP.String()
			if !threadNamed[key] {
				threadNamed[key] = true
				emit(traceEvent{Name: "thread_name", Ph: "M", Pid: pid(e.Node), Tid: tidLeadership + slices.Index(tps, e.TP), Args: map[string]any{"name": "leads " + e.TP.String()}})
			}
		case cluster.EvBecameFollower:
			closeSlice(e.Node, e.TP, e.Time)
		case cluster.EvCrashed, cluster.EvPowerLoss:
			for _, tp := range tps {
				closeSlice(e.Node, tp, e.Time)
			}
		}
	}
	end := clock.At(r.Duration)
	for _, n := range names {
		for _, tp := range tps {
			closeSlice(n, tp, end)
		}
	}

	// Faults as async slices; instant ones as instants.
	for i, f := range r.Faults {
		args := map[string]any{"hit": f.Hit}
		if !f.Window() {
			emit(traceEvent{Name: f.Text, Cat: "fault", Ph: "i", Ts: micros(clock.At(f.At)), Pid: faultsPid, Tid: 1, Args: args})
			continue
		}
		id := "fault-" + itoa(i)
		emit(traceEvent{Name: f.Text, Cat: "fault", Ph: "b", Ts: micros(clock.At(f.At)), Pid: faultsPid, Tid: 1, ID: id, Args: args})
		emit(traceEvent{Name: f.Text, Cat: "fault", Ph: "e", Ts: micros(clock.At(f.Until)), Pid: faultsPid, Tid: 1, ID: id})
	}

	// Counters: ISR size per partition (and, with KIP-966, ELR size), and
	// the leader's high watermark.
	leader := map[cluster.TopicPartition]cluster.BrokerID{}
	for _, f := range r.Final {
		if len(f.State.Replicas) > 0 {
			leader[f.TP] = f.State.Replicas[0]
			emit(traceEvent{Name: "isr " + f.TP.String(), Ph: "C", Ts: 0, Pid: countersPid, Args: map[string]any{"size": len(f.State.Replicas)}})
		}
	}
	events, samples := r.Journal, r.HWSamples
	for len(events) > 0 || len(samples) > 0 {
		if len(events) > 0 && (len(samples) == 0 || events[0].Time <= samples[0].Time) {
			e := events[0]
			events = events[1:]
			if e.ISR != nil && e.TP.Topic != "" {
				leader[e.TP] = e.Leader
				emit(traceEvent{Name: "isr " + e.TP.String(), Ph: "C", Ts: micros(e.Time), Pid: countersPid, Args: map[string]any{"size": len(e.ISR)}})
				if r.Scenario.Cluster.Broker.ELR {
					emit(traceEvent{Name: "elr " + e.TP.String(), Ph: "C", Ts: micros(e.Time), Pid: countersPid, Args: map[string]any{"size": len(e.ELR)}})
				}
			}
			continue
		}
		s := samples[0]
		samples = samples[1:]
		if leader[s.TP] == s.Broker {
			emit(traceEvent{Name: "high watermark " + s.TP.String(), Ph: "C", Ts: micros(s.Time), Pid: countersPid, Args: map[string]any{"offset": s.HW}})
		}
	}
	if _, err := out.WriteString("]}\n"); err != nil {
		return err
	}
	return out.Flush()
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
