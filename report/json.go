package report

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/tideline-sim/tideline/runner"
	"github.com/tideline-sim/tideline/sim"
)

// Summary is summary.json: the run's numbers and verdicts, for CI and tools.
type Summary struct {
	Scenario          string          `json:"scenario"`
	Source            string          `json:"source"`
	Seed              uint64          `json:"seed"`
	DurationMs        int64           `json:"duration_ms"`
	Events            int64           `json:"events"`
	TraceHash         string          `json:"trace_hash"`
	Sends             runner.Sends    `json:"sends"`
	Lost              int             `json:"lost_acknowledged_writes"`
	UnavailableWrites int             `json:"unavailable_acknowledged_writes"`
	Offline           int             `json:"offline_partitions"`
	Availability      float64         `json:"availability"` // share of time a write was acknowledged within the deadline
	DeadlineMs        int64           `json:"availability_deadline_ms"`
	Eventually        float64         `json:"eventually_acknowledged"` // share of sends acknowledged at all
	Partitions        []partitionJSON `json:"partitions"`
	Leaders           int             `json:"leader_elections"`
	Preferred         int             `json:"preferred_elections,omitempty"` // of the leader elections
	ShutdownMoves     int             `json:"controlled_shutdown_moves,omitempty"`
	Reassignments     int             `json:"reassignments_completed,omitempty"`
	ISRShrinks        int             `json:"isr_shrinks"`
	ISRExpands        int             `json:"isr_expands"`
	Producers         []producerJSON  `json:"producers"`
	Groups            []groupJSON     `json:"consumer_groups,omitempty"`
	Faults            []faultJSON     `json:"faults"`
	Unavailable       []windowJSON    `json:"unavailable"`
	Buckets           []bucketJSON    `json:"buckets"`
	Checkers          []checkerJSON   `json:"checkers"`
	Expectations      []outcomeJSON   `json:"expectations"`
	OK                bool            `json:"ok"`
	Command           string          `json:"command"`
}

type faultJSON struct {
	AtMs             int64  `json:"at_ms"`
	Fault            string `json:"fault"`
	Hit              string `json:"hit"`
	WritesResumedMs  int64  `json:"writes_resumed_ms"`  // -1: never
	FullyRecoveredMs int64  `json:"fully_recovered_ms"` // -1: never
}

type bucketJSON struct {
	StartMs   int64 `json:"start_ms"`
	Attempts  int   `json:"attempts"`
	Succeeded int   `json:"succeeded"`
	OnTime    int   `json:"acknowledged_within_deadline"`
	Acked     int   `json:"acked"`
}

type partitionJSON struct {
	Partition    string  `json:"partition"`
	Availability float64 `json:"availability"`
	Outages      int     `json:"outages"`
	LongestMs    int64   `json:"longest_outage_ms"`
	FromMs       int64   `json:"longest_outage_from_ms"`
	ToMs         int64   `json:"longest_outage_to_ms"`
	Ongoing      bool    `json:"longest_outage_ongoing"`
}

// producerJSON is how a producer sent (its own counts, as Kafka's
// producer metrics give them).
type producerJSON struct {
	Producer    string  `json:"producer"`
	Batches     int64   `json:"batches"`
	AvgBatch    float64 `json:"avg_batch_records"`
	Requests    int64   `json:"requests"`
	Retries     int64   `json:"retries"`
	MaxInFlight int     `json:"max_in_flight"`
}

type groupJSON struct {
	Group          string `json:"group"`
	Members        int    `json:"members"`
	Generations    int    `json:"generations"`
	Rebalances     int    `json:"rebalances"`
	Commits        int    `json:"commits"`
	CommitFailures int    `json:"commit_failures"`
	Processed      int    `json:"processed"`
	ProcessedTwice int    `json:"processed_twice"`
	Unprocessed    int    `json:"unprocessed"`
	MaxLag         int64  `json:"max_lag"`
}

type windowJSON struct {
	Partition string `json:"partition"`
	FromMs    int64  `json:"from_ms"`
	ToMs      int64  `json:"to_ms"`
}

type checkerJSON struct {
	Name       string          `json:"name"`
	Definition string          `json:"definition"`
	Verdict    string          `json:"verdict"`
	Violations []violationJSON `json:"violations"`
	Notes      []string        `json:"notes,omitempty"`
}

type violationJSON struct {
	Kind      string   `json:"kind"`
	Partition string   `json:"partition"`
	Offset    int64    `json:"offset"`
	Payload   int64    `json:"payload"`
	Message   string   `json:"message"`
	Story     []string `json:"story,omitempty"`
}

type outcomeJSON struct {
	Name string `json:"name"`
	Want string `json:"want"`
	Got  string `json:"got"`
	OK   bool   `json:"ok"`
}

// JSON writes summary.json.
func JSON(w io.Writer, r *runner.Result, command string) error {
	s := Summary{
		Scenario: r.Scenario.Name, Source: r.Scenario.Source, Seed: r.Seed,
		DurationMs: r.Duration.Milliseconds(), Events: r.Events, TraceHash: sim.Hex16(r.TraceHash),
		Sends: r.Sends, Lost: r.Lost, UnavailableWrites: r.Unavailable, Offline: r.OfflinePartitions, Availability: r.Availability,
		DeadlineMs: r.Detail.Deadline.Milliseconds(), Eventually: r.Detail.Share, Partitions: []partitionJSON{}, Leaders: r.Leaders, Preferred: r.Preferred, ShutdownMoves: r.ShutdownMoves, Reassignments: r.Reassignments, ISRShrinks: r.ISRShrinks, ISRExpands: r.ISRExpands,
		Producers: producersJSON(r),
		Groups:    groupsJSON(r),
		OK:        r.OK(), Command: command, Faults: []faultJSON{}, Unavailable: []windowJSON{}, Checkers: []checkerJSON{}, Expectations: []outcomeJSON{},
	}
	for i, f := range r.Faults {
		fj := faultJSON{AtMs: f.At.Milliseconds(), Fault: f.Text, Hit: f.Hit, WritesResumedMs: -1, FullyRecoveredMs: -1}
		if i < len(r.Detail.Recoveries) {
			fj.WritesResumedMs = millisOrNever(r.Detail.Recoveries[i].WritesResumed)
			fj.FullyRecoveredMs = millisOrNever(r.Detail.Recoveries[i].FullyRecovered)
		}
		s.Faults = append(s.Faults, fj)
	}
	for _, b := range r.Detail.Buckets {
		s.Buckets = append(s.Buckets, bucketJSON{StartMs: b.Start.Milliseconds(), Attempts: b.Attempts, Succeeded: b.Succeeded, OnTime: b.OnTime, Acked: b.Acked})
	}
	for _, p := range r.Detail.Partitions {
		s.Partitions = append(s.Partitions, partitionJSON{Partition: p.TP.String(), Availability: p.Available, Outages: p.Outages,
			LongestMs: p.Longest.Length().Milliseconds(), FromMs: p.Longest.From.Milliseconds(), ToMs: p.Longest.To.Milliseconds(), Ongoing: p.Longest.Ongoing})
	}
	for _, w := range r.Detail.Windows {
		s.Unavailable = append(s.Unavailable, windowJSON{Partition: w.TP.String(), FromMs: w.From.Milliseconds(), ToMs: w.To.Milliseconds()})
	}
	for _, ch := range r.Checks {
		cj := checkerJSON{Name: ch.Checker, Definition: ch.Definition, Verdict: ch.Verdict(), Violations: []violationJSON{}, Notes: ch.Notes}
		for _, v := range ch.Violations {
			cj.Violations = append(cj.Violations, violationJSON{Kind: v.Kind, Partition: v.TP.String(), Offset: v.Offset, Payload: v.Payload, Message: v.Message, Story: v.Story})
		}
		s.Checkers = append(s.Checkers, cj)
	}
	for _, o := range r.Expectations {
		s.Expectations = append(s.Expectations, outcomeJSON(o))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

func millisOrNever(d time.Duration) int64 {
	if d < 0 {
		return -1
	}
	return d.Milliseconds()
}

func groupsJSON(r *runner.Result) []groupJSON {
	var out []groupJSON
	for _, g := range r.Groups {
		out = append(out, groupJSON{Group: g.Group, Members: len(g.Members), Generations: g.Generations, Rebalances: len(g.Rebalances), Commits: g.Commits,
			CommitFailures: g.CommitFailures, Processed: g.Processed, ProcessedTwice: g.ProcessedTwice, Unprocessed: g.Unprocessed, MaxLag: g.MaxLag})
	}
	return out
}

func producersJSON(r *runner.Result) []producerJSON {
	out := make([]producerJSON, 0, len(r.Producers))
	for i, m := range r.Producers {
		out = append(out, producerJSON{Producer: fmt.Sprintf("producer-%d", i), Batches: m.Batches, AvgBatch: m.AvgBatch(),
			Requests: m.Requests, Retries: m.Retries, MaxInFlight: m.MaxInFlight})
	}
	return out
}
