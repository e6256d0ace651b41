// Command simulate runs a tideline scenario: a Kafka-style cluster on a
// virtual clock, under the scenario's faults, checked against its promises.
package main

import (
	"os"
	"runtime/debug"

	"github.com/tideline-sim/tideline/runner"
)

// memoryLimit is the collector's limit for a run: its estimated memory
// (which has room for the collector), at least minMemoryLimit, at most the
// -max-memory cap.
func memoryLimit(est runner.Cost, memCap int64) int64 {
	return min(memCap, max(est.MemoryBytes, minMemoryLimit))
}

// minMemoryLimit keeps short runs collecting at gcPercent alone.
const minMemoryLimit = 512 << 20

func main() {
	debug.SetGCPercent(runner.GCPercent)
	debug.SetMemoryLimit(runner.DefaultMaxMemory)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
