package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/runner"
	"github.com/tideline-sim/tideline/sim"
)

// FuzzReplay feeds -replay's reader arbitrary trace files: it must answer
// every one with a recording or an error, never a panic, a hang or a
// runaway allocation (the scenario in a header is bounded like any file).
func FuzzReplay(f *testing.F) {
	dir := f.TempDir()
	if code, _, stderr := simulate("-scenario", "single-broker", "-out", dir, "-q"); code != exitOK {
		f.Fatalf("recording a seed trace: %d %s", code, stderr)
	}
	full, err := os.ReadFile(filepath.Join(dir, "run.trace"))
	if err != nil {
		f.Fatal(err)
	}
	lines := bytes.SplitAfter(full, []byte("\n"))
	f.Add(bytes.Join(append(lines[:3:3], lines[len(lines)-2]), nil)) // a footer that does not match
	f.Add(lines[0])                                                  // the header alone
	f.Add([]byte(`{"format":"tideline-trace/2","seed":1,"duration_ns":1,"input":"name: x\n"}` + "\n" + `{"kind":"end","end":true}` + "\n"))
	f.Add([]byte(`{"format":"tideline-trace/2","input":"a: &a [*a]"}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		_, entries, sc, err := readRecording("fuzz.trace", bytes.NewReader(data))
		if err == nil && (sc == nil || entries == nil && len(data) == 0) {
			t.Fatalf("no error and no recording")
		}
	})
}

// FuzzReplayVerify edits one field of one event of a recorded trace and
// replays it: the replay must stop at that event and name that field, for
// every field a trace records — not only the hash.
func FuzzReplayVerify(f *testing.F) {
	dir := f.TempDir()
	if code, _, stderr := simulate("-scenario", "single-broker", "-duration", "35s", "-out", dir, "-q"); code != exitOK {
		f.Fatalf("recording a trace: %d %s", code, stderr)
	}
	file, err := os.Open(filepath.Join(dir, "run.trace"))
	if err != nil {
		f.Fatal(err)
	}
	defer file.Close()
	head, recorded, sc, err := readRecording("run.trace", file)
	if err != nil {
		f.Fatal(err)
	}
	fields := []string{"i", "t", "kind", "node", "from", "what", "sent", "hash"}
	for field := range fields {
		f.Add(uint32(1000+field*37), uint8(field), int8(1))
	}
	f.Add(uint32(0), uint8(5), int8(-3))
	f.Fuzz(func(t *testing.T, at uint32, field uint8, delta int8) {
		if delta == 0 {
			return
		}
		i := int(at) % len(recorded)
		name := fields[int(field)%len(fields)]
		edited := slices.Clone(recorded)
		e := &edited[i]
		text := func(s string) string { return s + string(rune('a'+byte(delta)%26)) }
		switch name {
		case "i":
			e.I += int64(delta)
		case "t":
			e.T += clock.Time(delta)
		case "kind":
			e.Kind = text(e.Kind)
		case "node":
			e.Node = text(e.Node)
		case "from":
			e.From = text(e.From)
		case "what":
			e.What = text(e.What)
		case "sent":
			e.Sent += clock.Time(delta)
		case "hash":
			e.Hash ^= sim.Hash(uint8(delta))
		}
		_, err := runner.Run(sc, runner.Options{Seed: uint64(head.Seed), Duration: head.Duration, Replay: edited})
		var div *sim.DivergenceError
		if !errors.As(err, &div) {
			t.Fatalf("event %d's %s edited: replay said %v", i+1, name, err)
		}
		if div.Index != int64(i+1) || div.Field != name {
			t.Fatalf("event %d's %s edited: replay names event %d's %q", i+1, name, div.Index, div.Field)
		}
	})
}
