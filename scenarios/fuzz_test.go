package scenarios

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad feeds the loader mangled scenarios: whatever the input, it must
// return a scenario or an error, never panic.
//
//	go test ./scenarios -fuzz FuzzLoad -fuzztime 1m
func FuzzLoad(f *testing.F) {
	for _, name := range BuiltinNames() {
		data, err := builtinFS.ReadFile("builtin/" + name + ".yaml")
		if err == nil {
			f.Add(data)
		}
	}
	bad, _ := filepath.Glob("../testdata/scenarios/bad/*.yaml")
	for _, path := range bad {
		if data, err := os.ReadFile(path); err == nil {
			f.Add(data)
		}
	}
	// What once hung the loader or ran it out of memory.
	f.Add([]byte("a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b, *b]\n"))
	f.Add([]byte("name: x\nfaults: " + strings.Repeat("[", 100) + "\n"))
	f.Add([]byte("name: x\ndescription: " + strings.Repeat("{a: ", 100) + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := Load("fuzz.yaml", data)
		if err == nil && sc == nil {
			t.Fatal("no scenario and no error")
		}
	})
}
