// Command simulate runs a tideline scenario: a Kafka-style cluster on a
// virtual clock, under the scenario's faults, checked against its promises.
package main

import (
	"os"
	"runtime/debug"

	"github.com/tideline-sim/tideline/runner"
)

// gcPercent trades memory for speed: a run allocates many short-lived
// message values, so collecting a quarter as often saves a fifth of the
// wall time. The memory limit bounds what that costs: past it the collector
// runs as often as needed, so a long run's memory follows what it keeps,
// not 5x that.
const gcPercent = 400

// memoryLimit is the collector's limit for a run: its estimated memory
// (which has room for the collector), at least minMemoryLimit, at most the
// -max-memory cap.
func memoryLimit(est runner.Cost, memCap int64) int64 {
	return min(memCap, max(est.MemoryBytes, minMemoryLimit))
}

// minMemoryLimit keeps short runs collecting at gcPercent alone.
const minMemoryLimit = 512 << 20

func main() {
	debug.SetGCPercent(gcPercent)
	debug.SetMemoryLimit(runner.DefaultMaxMemory)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
