package check

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster/journal"
)

// CrashDefinition is the promise, in one line.
const CrashDefinition = "the run ends without a panic in tideline's own code: a node, the protocol monitor or a checker"

// Crash is the finding of a run that panicked: where (the simulation at a
// simulated time, or a checker), the panic's value, the story of the
// events up to it and the stack, so that a bug the simulator hits is a
// finding of that seed like any broken promise, never the end of the tool.
func Crash(stage string, at clock.Time, value any, stack []byte, events []journal.Event) Result {
	v := Violation{Checker: CrashName, Kind: "panic", Offset: -1, Payload: -1, At: at,
		Message: fmt.Sprintf("%s panicked: %v", stage, value)}
	v.Story = append(v.Story, Story(v, events, nil)...)
	v.Story = append(v.Story, "stack:")
	for _, frame := range Frames(stack, 12) {
		v.Story = append(v.Story, "  "+frame)
	}
	return Result{Checker: CrashName, Definition: CrashDefinition, Violations: []Violation{v}}
}

// Frames are a stack's first n calls as "function (file:line)", from
// where it panicked to the run loop that called it: without the recover
// that caught it, the runner's own frames, the goroutine's number and the
// addresses that differ from one process to the next — what a report may
// show and still be the same every time.
func Frames(stack []byte, n int) []string {
	lines := strings.Split(strings.TrimSpace(string(stack)), "\n")
	var frames []string
	for i := 1; i+1 < len(lines) && len(frames) < n; i += 2 {
		fn := strings.TrimSpace(lines[i])
		fn = argsRE.ReplaceAllString(fn, "(...)")
		where := strings.TrimSpace(lines[i+1])
		where = offsetRE.ReplaceAllString(where, "")
		// The package's folder and the file: the rest of the path is this
		// machine's.
		if parts := strings.Split(where, "/"); len(parts) > 2 {
			where = strings.Join(parts[len(parts)-2:], "/")
		}
		if strings.HasPrefix(fn, "runtime/debug.Stack") || strings.HasPrefix(fn, "panic(") || strings.HasPrefix(fn, "runtime.") ||
			strings.HasPrefix(fn, runnerPrefix) && len(frames) == 0 {
			continue // the recover's own frames
		}
		if strings.HasPrefix(fn, runnerPrefix) {
			break // the runner that called the run loop: the same for every finding
		}
		frames = append(frames, fn+" ("+where+")")
	}
	return frames
}

const runnerPrefix = "github.com/tideline-sim/tideline/runner."

var (
	argsRE   = regexp.MustCompile(`\([^)]*\)$`)
	offsetRE = regexp.MustCompile(` \+0x[0-9a-f]+$`)
)
