// Package check holds the checkers that prove or refute a run's promises.
// Checkers read the client history and the final replica logs; they never
// touch a running world.
package check

import (
	"fmt"

	"github.com/tideline-sim/tideline/cluster"
)

// Violation is one broken promise, with the operations that show it.
type Violation struct {
	Checker string
	TP      cluster.TopicPartition
	Offset  int64
	Payload int64
	Message string
	Ops     []cluster.Op // the history entries involved
}

func (v Violation) String() string {
	return fmt.Sprintf("%s: %v offset %d: %s", v.Checker, v.TP, v.Offset, v.Message)
}

// Result is one checker's verdict.
type Result struct {
	Checker    string
	Definition string
	Violations []Violation
}

// OK reports whether the promise held.
func (r Result) OK() bool { return len(r.Violations) == 0 }
