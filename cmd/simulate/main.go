// Command simulate runs a tideline scenario: a Kafka-style cluster on a
// virtual clock, under the scenario's faults, checked against its promises.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/tideline-sim/tideline/internal/atomicfile"
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
	removeUnfinishedOnSignal()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// removeUnfinishedOnSignal makes an interrupt or a termination remove the
// files half written (a trace can be hundreds of MB) before the process
// exits with the shell's code for the signal. It watches the process, not
// the run: nothing it does reaches a verdict.
func removeUnfinishedOnSignal() {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-signals
		atomicfile.RemoveUnfinished()
		fmt.Fprintf(os.Stderr, "\nsimulate: %v: stopped; files not finished were removed\n", s)
		code := 1
		if n, ok := s.(syscall.Signal); ok {
			code = 128 + int(n)
		}
		os.Exit(code)
	}()
}
