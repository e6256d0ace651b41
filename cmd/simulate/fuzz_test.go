package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
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
