package runner

import (
	"testing"
	"time"

	"github.com/tideline-sim/tideline/check"
	"github.com/tideline-sim/tideline/scenarios"
)

// BenchmarkSimulateLeaderCrash is the simulation alone of leader-crash
// (60 s at 500 records/s): the yardstick for the checkers' cost.
func BenchmarkSimulateLeaderCrash(b *testing.B) {
	sc, err := scenarios.Builtin("leader-crash")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, err := simulate(sc, Options{Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckLeaderCrash is every checker over one leader-crash run.
func BenchmarkCheckLeaderCrash(b *testing.B) {
	benchmarkChecks(b, func(in check.Input) { check.All(in) })
}

// BenchmarkCheckLeaderCrashWithoutPorcupine leaves the linearizable
// checker out, as the cost budget does.
func BenchmarkCheckLeaderCrashWithoutPorcupine(b *testing.B) {
	benchmarkChecks(b, func(in check.Input) {
		check.AckedDurability(in.History, in.Final)
		check.ReplicaAgreement(in.Divergences, in.Final)
		check.LeaderUniqueness(in.Events, in.Acks, in.End)
		check.ConsumerSafety(in.History, in.Final)
		check.NoDuplicates(in.History, in.Final)
		check.EventualDelivery(in.History, in.Final)
		check.MeasureAvailability(in.History, in.Events, in.Final, []check.Fault{{At: 10 * time.Second}, {At: 30 * time.Second}}, time.Second, in.End)
	})
}

func benchmarkChecks(b *testing.B, run func(check.Input)) {
	sc, err := scenarios.Builtin("leader-crash")
	if err != nil {
		b.Fatal(err)
	}
	_, in, err := simulate(sc, Options{Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		run(in)
	}
}
