package sim

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
	"unsafe"

	"github.com/tideline-sim/tideline/clock"
)

// traceKind names what an event was.
type traceKind uint8

const (
	kindStart traceKind = iota
	kindDeliver
	kindDrop
	kindTimer
	kindAction
	kindCrash
	kindPowerLoss
	kindRestart
	kindPause
	kindResume
	kindLog
	kindStop // an orderly exit (Env.Exit); last, so older kinds keep their numbers
)

var kindNames = [...]string{
	kindStart:     "start",
	kindDeliver:   "deliver",
	kindDrop:      "drop",
	kindTimer:     "timer",
	kindAction:    "action",
	kindCrash:     "crash",
	kindPowerLoss: "power-loss",
	kindRestart:   "restart",
	kindPause:     "pause",
	kindResume:    "resume",
	kindLog:       "log",
	kindStop:      "stop",
}

func (k traceKind) String() string { return kindNames[k] }

// TraceFormat is written in every trace header; a reader refuses others.
const TraceFormat = "tideline-trace/2"

// TraceHeader is the first line of a trace file: what it takes to re-run it.
type TraceHeader struct {
	Format   string        `json:"format"`
	Seed     Seed          `json:"seed"`
	Duration time.Duration `json:"duration_ns"`
	Run      string        `json:"run,omitempty"`   // what was run, e.g. the scenario's name
	Input    string        `json:"input,omitempty"` // what it takes to run it again, e.g. the scenario text
}

// TraceEntry is one event of a run as the trace records it. Hash is the
// running hash after this event, so two runs agree up to the first entry
// whose Hash differs, and that entry is where they diverged.
type TraceEntry struct {
	I    int64      `json:"i,omitempty"` // index among hashed events, from 1; 0 for log lines
	T    clock.Time `json:"t"`           // nanoseconds since start
	Kind string     `json:"kind"`
	Node string     `json:"node,omitempty"`
	From string     `json:"from,omitempty"`
	What string     `json:"what,omitempty"`
	Sent clock.Time `json:"sent,omitempty"` // deliveries and drops: when the message was sent
	Hash Hash       `json:"hash,omitempty"`
	// The last line of a trace is its footer: End, the number of events
	// and the final hash, so that a truncated trace cannot pass for a run.
	End    bool  `json:"end,omitempty"`
	Events int64 `json:"events,omitempty"`
}

// Hash is a trace's running hash, written as 16 hex digits.
type Hash uint64

func (h Hash) String() string { return Hex16(uint64(h)) }

// MarshalText writes the hash as 16 hex digits.
func (h Hash) MarshalText() ([]byte, error) { return appendHex16(nil, uint64(h)), nil }

// UnmarshalText reads 16 hex digits.
func (h *Hash) UnmarshalText(b []byte) error {
	v, err := strconv.ParseUint(string(b), 16, 64)
	if err != nil || len(b) != 16 {
		return fmt.Errorf("hash %q is not 16 hex digits", b)
	}
	*h = Hash(v)
	return nil
}

func (e TraceEntry) String() string {
	s := fmt.Sprintf("#%d at %v: %s", e.I, e.T, e.Kind)
	if e.Node != "" {
		s += " " + e.Node
	}
	if e.From != "" {
		s += " from " + e.From
	}
	if e.What != "" {
		s += " " + strconv.Quote(e.What)
	}
	return s
}

// DivergenceError says where a replay first differed from its recording.
// Want is nil when the replay ran past the recording's end, Got is nil when
// it ended before it.
type DivergenceError struct {
	Index int64
	Want  *TraceEntry
	Got   *TraceEntry
	// Field names the first recorded field that differs ("what", "t",
	// ...) and Recorded and Replayed its two values; empty when one side
	// ended.
	Field, Recorded, Replayed string
}

func (e *DivergenceError) Error() string {
	switch {
	case e.Want == nil:
		return fmt.Sprintf("replay diverged at event %d: the recording ended, the replay went on with %v", e.Index, e.Got)
	case e.Got == nil:
		return fmt.Sprintf("replay diverged at event %d: the replay ended, the recording went on with %v", e.Index, e.Want)
	}
	return fmt.Sprintf("replay diverged at event %d, field %q: recorded %s, replayed %s\n  recorded %v\n  replayed %v", e.Index, e.Field, e.Recorded, e.Replayed, e.Want, e.Got)
}

// firstDifference compares every field a trace records of an event and
// names the first that differs, with both values: a recording edited in
// any field (not only its hash) is told apart from the run.
func firstDifference(want, got *TraceEntry) (field, recorded, replayed string) {
	quote := strconv.Quote
	num := func(n int64) string { return strconv.FormatInt(n, 10) }
	for _, f := range []struct{ name, a, b string }{
		{"i", num(want.I), num(got.I)},
		{"t", num(int64(want.T)), num(int64(got.T))},
		{"kind", quote(want.Kind), quote(got.Kind)},
		{"node", quote(want.Node), quote(got.Node)},
		{"from", quote(want.From), quote(got.From)},
		{"what", quote(want.What), quote(got.What)},
		{"sent", num(int64(want.Sent)), num(int64(got.Sent))},
		{"hash", want.Hash.String(), got.Hash.String()},
	} {
		if f.a != f.b {
			return f.name, f.a, f.b
		}
	}
	return "", "", ""
}

// tracer keeps the running hash of a run and, on request, hands the trace
// on or checks it against a recording.
type tracer struct {
	sentAt clock.Time // send time of the delivery being recorded, for the written trace
	hash   uint64
	count  int64
	buf    []byte
	expect []TraceEntry
	// sink takes every entry as it is recorded, while the trace is kept.
	sink func(TraceEntry)
	// text holds the texts of the entries handed to sink: only ever
	// appended to, so a What made over it never changes; one allocation
	// for many events rather than one each.
	text []byte
	out  *bufio.Writer // TraceTo's
	line []byte        // the line TraceTo is writing
}

func (t *tracer) reset() { t.hash = 0x6a09e667f3bcc908 }

// Header is the trace header of this run; run and input say what was run,
// for replay.
func (w *World) Header(run, input string) TraceHeader {
	return TraceHeader{Format: TraceFormat, Seed: w.cfg.Seed, Duration: w.cfg.Duration, Run: run, Input: input}
}

// WriteTraceHeader writes a trace's first line.
func WriteTraceHeader(out io.Writer, h TraceHeader) error { return json.NewEncoder(out).Encode(h) }

// TraceTo writes the run's trace to out as JSON Lines: a header, then one
// entry per event (AppendJSON). Call it before Run; it replaces a
// StreamTrace.
func (w *World) TraceTo(out io.Writer, run, input string) error {
	t := &w.trace
	t.out = bufio.NewWriterSize(out, 64<<10)
	t.sink = func(e TraceEntry) {
		// Write errors surface at FlushTrace; a bufio.Writer keeps the first.
		t.line = e.AppendJSON(t.line[:0])
		_, _ = t.out.Write(t.line)
	}
	return WriteTraceHeader(t.out, w.Header(run, input))
}

// StreamTrace hands f every entry TraceTo would write, in order, as it is
// recorded (log lines and the footer too), for a writer that formats them
// elsewhere — on a goroutine of its own, say, while the run goes on. f must
// not act on the world. Call it before Run; it replaces a TraceTo.
func (w *World) StreamTrace(f func(TraceEntry)) {
	w.trace.out = nil
	w.trace.sink = f
}

// FlushTrace writes out what the trace writer buffered.
func (w *World) FlushTrace() error {
	if w.trace.out == nil {
		return nil
	}
	return w.trace.out.Flush()
}

// Replay makes the run check itself against a recorded trace, stopping with
// a *DivergenceError at the first event whose running hash differs.
func (w *World) Replay(recorded []TraceEntry) { w.trace.expect = recorded }

// TraceHash returns the running hash of every event so far.
func (w *World) TraceHash() uint64 { return w.trace.hash }

// Events returns the number of events recorded in the trace so far.
func (w *World) Events() int64 { return w.trace.count }

// checkReplayEnd reports a replay that ended before its recording did.
func (w *World) checkReplayEnd() {
	t := &w.trace
	if w.err == nil && t.expect != nil && t.count < int64(len(t.expect)) {
		want := t.expect[t.count]
		w.fail(&DivergenceError{Index: t.count + 1, Want: &want})
	}
}

func (t *tracer) record(w *World, kind traceKind, node, from NodeID, what interface{ AppendSummary([]byte) []byte }) {
	t.buf = what.AppendSummary(t.buf[:0])
	t.commit(w, kind, node, from)
}

func (t *tracer) recordString(w *World, kind traceKind, node, from NodeID, what string) {
	t.buf = append(t.buf[:0], what...)
	t.commit(w, kind, node, from)
}

// commit folds the event in t.buf into the running hash, then writes or
// checks it.
func (t *tracer) commit(w *World, kind traceKind, node, from NodeID) {
	h := t.hash
	h = mix(h, uint64(w.now))
	h = mix(h, uint64(kind)<<32|uint64(uint32(node)))
	h = mix(h, uint64(uint32(from)))
	h = mixBytes(h, t.buf)
	t.hash = h
	t.count++
	if t.sink != nil {
		t.emit(w, kind, node, from)
	}
	if t.expect != nil {
		t.verify(w, kind, node, from)
	}
}

// emit hands the event to the sink. It is kept out of commit, which
// every event runs, so that commit's frame stays small.
//
//go:noinline
func (t *tracer) emit(w *World, kind traceKind, node, from NodeID) {
	t.sink(w.entry(kind, node, from, t.keep(t.buf), t.count, t.hash))
}

// keep returns b as a string in t.text.
func (t *tracer) keep(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > cap(t.text)-len(t.text) {
		t.text = make([]byte, 0, max(64<<10, len(b)))
	}
	start := len(t.text)
	t.text = append(t.text, b...)
	return unsafe.String(&t.text[start], len(b))
}

func (t *tracer) verify(w *World, kind traceKind, node, from NodeID) {
	got := w.entry(kind, node, from, string(t.buf), t.count, t.hash)
	if t.count > int64(len(t.expect)) {
		w.fail(&DivergenceError{Index: t.count, Got: &got})
		return
	}
	want := t.expect[t.count-1]
	if want.Hash != got.Hash || want != got {
		field, recorded, replayed := firstDifference(&want, &got)
		w.fail(&DivergenceError{Index: t.count, Want: &want, Got: &got, Field: field, Recorded: recorded, Replayed: replayed})
	}
}

func (t *tracer) log(w *World, node NodeID, line string) {
	t.sink(w.entry(kindLog, node, -1, line, 0, 0))
}

// AppendJSON appends the entry as a trace line: as encoding/json would
// encode it, line break included, without its reflection, for a trace has
// an entry an event.
func (e *TraceEntry) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	if e.I != 0 {
		b = strconv.AppendInt(append(b, `"i":`...), e.I, 10)
		b = append(b, ',')
	}
	b = strconv.AppendInt(append(b, `"t":`...), int64(e.T), 10)
	b = appendJSONString(append(b, `,"kind":`...), e.Kind)
	for _, f := range [...]struct{ key, value string }{{`,"node":`, e.Node}, {`,"from":`, e.From}, {`,"what":`, e.What}} {
		if f.value != "" {
			b = appendJSONString(append(b, f.key...), f.value)
		}
	}
	if e.Sent != 0 {
		b = strconv.AppendInt(append(b, `,"sent":`...), int64(e.Sent), 10)
	}
	if e.Hash != 0 {
		b = append(appendHex16(append(b, `,"hash":"`...), uint64(e.Hash)), '"')
	}
	if e.End {
		b = append(b, `,"end":true`...)
	}
	if e.Events != 0 {
		b = strconv.AppendInt(append(b, `,"events":`...), e.Events, 10)
	}
	return append(b, '}', '\n')
}

// Hex16 is h as 16 hex digits (fmt's %016x, without fmt's cost).
func Hex16(h uint64) string { return string(appendHex16(make([]byte, 0, 16), h)) }

func appendHex16(b []byte, h uint64) []byte {
	const digits = "0123456789abcdef"
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, digits[h>>shift&15])
	}
	return b
}

// appendJSONString appends s quoted as encoding/json quotes it: plain
// printable ASCII as is, anything else through encoding/json itself.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func (w *World) entry(kind traceKind, node, from NodeID, what string, index int64, hash uint64) TraceEntry {
	e := TraceEntry{I: index, T: w.now, Kind: kind.String(), What: what}
	if kind == kindDeliver || kind == kindDrop {
		e.Sent = w.trace.sentAt
	}
	if node >= 0 {
		e.Node = w.nodes[node].name
	}
	if from >= 0 {
		e.From = w.nodes[from].name
	}
	if index > 0 {
		e.Hash = Hash(hash)
	}
	return e
}

// endTrace writes the footer: the events and the final hash.
func (t *tracer) endTrace() {
	if t.sink != nil {
		t.sink(TraceEntry{Kind: "end", End: true, Events: t.count, Hash: Hash(t.hash)})
	}
}

// ReadTrace reads a trace written by TraceTo; log lines are skipped. It
// refuses a trace without its footer, or whose events or final hash do not
// match the footer's: a truncated or edited recording.
func ReadTrace(r io.Reader) (TraceHeader, []TraceEntry, error) {
	var entries []TraceEntry
	head, err := ScanTrace(r, func(e TraceEntry) error {
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		return head, nil, err
	}
	return head, entries, nil
}

// ScanTrace reads a trace as ReadTrace does, handing each event to each in
// turn rather than keeping them: a long run's trace need not fit in
// memory. An error from each stops the scan and is returned. Events are
// handed over before the footer is read: a caller that keeps what it made
// of them must drop it if ScanTrace fails.
func ScanTrace(r io.Reader, each func(TraceEntry) error) (TraceHeader, error) {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 64<<10))
	var head TraceHeader
	if err := dec.Decode(&head); err != nil {
		return head, fmt.Errorf("trace header: %w", err)
	}
	if head.Format != TraceFormat {
		return head, fmt.Errorf("trace header: format %q, want %q", head.Format, TraceFormat)
	}
	var count int64
	var lastHash Hash
	for line := 2; ; line++ {
		var e TraceEntry
		if err := dec.Decode(&e); err == io.EOF {
			return head, fmt.Errorf("the trace ends at line %d without its footer: it is incomplete", line)
		} else if err != nil {
			return head, fmt.Errorf("trace line %d: %w", line, err)
		}
		switch {
		case e.End:
			return head, checkFooter(e, count, lastHash, dec)
		case e.Kind != kindLog.String():
			if e.I != count+1 {
				return head, fmt.Errorf("trace line %d: event %d where event %d was due", line, e.I, count+1)
			}
			count, lastHash = e.I, e.Hash
			if err := each(e); err != nil {
				return head, err
			}
		}
	}
}

func checkFooter(foot TraceEntry, count int64, lastHash Hash, dec *json.Decoder) error {
	if foot.Events != count {
		return fmt.Errorf("the trace's footer counts %d events, the trace holds %d", foot.Events, count)
	}
	if count > 0 && lastHash != foot.Hash {
		return fmt.Errorf("the trace's footer has final hash %s, its last event %s", foot.Hash, lastHash)
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		return fmt.Errorf("the trace goes on after its footer")
	}
	return nil
}

// mix folds one word into a running hash (a splitmix64-style finaliser
// step): cheap, and every input bit reaches every output bit.
func mix(h, v uint64) uint64 {
	h ^= v
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 31
	h *= 0x94d049bb133111eb
	return h ^ h>>29
}

func mixBytes(h uint64, b []byte) uint64 {
	h = mix(h, uint64(len(b)))
	for len(b) >= 8 {
		h = mix(h, binary.LittleEndian.Uint64(b))
		b = b[8:]
	}
	if len(b) > 0 {
		var tail [8]byte
		copy(tail[:], b)
		h = mix(h, binary.LittleEndian.Uint64(tail[:]))
	}
	return h
}
