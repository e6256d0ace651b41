package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"

	"github.com/tideline-sim/tideline/runner"
)

// startProfiles starts a CPU profile and arranges a heap profile taken
// when the simulation ends, before the checkers run: what the run itself
// keeps. They measure the program, never the run's verdict.
func startProfiles(cpu, mem string, opts *runner.Options) (stop func() error, err error) {
	stop = func() error { return nil }
	if cpu != "" {
		f, err := os.Create(cpu)
		if err != nil {
			return stop, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return stop, err
		}
		stop = func() error {
			pprof.StopCPUProfile()
			return f.Close()
		}
	}
	if mem != "" {
		// Created now, so that a path that cannot be written is refused
		// before the run rather than found out after it.
		f, err := os.Create(mem)
		if err != nil {
			return func() error { return nil }, errors.Join(err, stop())
		}
		cpuStop := stop
		stop = func() error {
			err := cpuStop()
			return errors.Join(err, f.Close())
		}
		opts.Simulated = func() {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			fmt.Fprintf(os.Stderr, "simulate: heap in use at the end of the simulation: %d MB (heap profile in %s)\n", ms.HeapInuse>>20, mem)
			if err := pprof.WriteHeapProfile(f); err != nil {
				fmt.Fprintf(os.Stderr, "simulate: -memprofile: %v\n", err)
			}
		}
	}
	return stop, nil
}
