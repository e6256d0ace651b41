// Command simulate runs a tideline scenario: a Kafka-style cluster on a
// virtual clock, under the scenario's faults, checked against its promises.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
