// Command simulate runs a tideline scenario: a Kafka-style cluster on a
// virtual clock, under the scenario's faults, checked against its promises.
package main

import (
	"os"
	"runtime/debug"
)

// gcPercent trades memory for speed: a run allocates many short-lived
// message values and holds ~100 MB at most, so collecting a quarter as
// often saves a fifth of the wall time.
const gcPercent = 400

func main() {
	debug.SetGCPercent(gcPercent)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
