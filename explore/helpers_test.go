package explore

import (
	"github.com/tideline-sim/tideline/runner"
	"github.com/tideline-sim/tideline/scenarios"
)

func runFor(sc *scenarios.Scenario) (*runner.Result, error) {
	return runner.Run(sc, runner.Options{Seed: sc.Seed})
}
