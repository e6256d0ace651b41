package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tideline-sim/tideline/check"
	"github.com/tideline-sim/tideline/cluster"
	"github.com/tideline-sim/tideline/runner"
	"github.com/tideline-sim/tideline/scenarios"
	"gonum.org/v1/plot/vg"
)

// writeRun runs a built-in scenario and writes every artefact to a fresh
// folder.
func writeRun(t *testing.T, name string, seed uint64) (string, *runner.Result) {
	t.Helper()
	sc, err := scenarios.Builtin(name)
	require.NoError(t, err)
	var trace bytes.Buffer
	res, err := runner.Run(sc, runner.Options{Seed: seed, Trace: &trace})
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, WriteAll(dir, res, "simulate -scenario "+name, trace.Bytes()))
	return dir, res
}

func TestPlotsRenderAsPNGAndSVG(t *testing.T) {
	dir, _ := writeRun(t, "leader-crash", 1)
	panels := map[string]int{AvailabilityPlot: 2, LatencyPlot: 1, ReplicationPlot: 3}
	for _, name := range PlotNames {
		f, err := os.Open(filepath.Join(dir, name+".png"))
		require.NoError(t, err)
		img, err := png.Decode(f)
		f.Close()
		require.NoError(t, err, name)
		b := img.Bounds()
		assert.Equal(t, int(math.Round(float64(plotWidth/vg.Inch)*plotDPI)), b.Dx(), name)
		assert.InDelta(t, float64(panelTall/vg.Inch)*plotDPI*float64(panels[name]), float64(b.Dy()), 1, name)

		data, err := os.ReadFile(filepath.Join(dir, name+".svg"))
		require.NoError(t, err)
		var root struct {
			XMLName xml.Name
			Width   string `xml:"width,attr"`
		}
		require.NoError(t, xml.Unmarshal(data, &root), name)
		assert.Equal(t, "svg", root.XMLName.Local)
		assert.NotEmpty(t, root.Width)
	}
}

func TestMarkdownLinksEveryFileItNames(t *testing.T) {
	dir, _ := writeRun(t, "unclean-election", 2)
	md, err := os.ReadFile(filepath.Join(dir, ReportFile))
	require.NoError(t, err)
	links := regexp.MustCompile(`\]\(([^)]+)\)`).FindAllStringSubmatch(string(md), -1)
	require.GreaterOrEqual(t, len(links), 9, "plots (PNG, SVG) and files")
	for _, l := range links {
		_, err := os.Stat(filepath.Join(dir, l[1]))
		assert.NoError(t, err, "report.md links %s", l[1])
	}
	for _, want := range []string{"simulate -scenario unclean-election", "```yaml", "How it happened", "UNCLEAN", "| acked-durability "} {
		assert.Contains(t, string(md), want)
	}
}

func TestReportsAreByteIdenticalForOneSeed(t *testing.T) {
	a, _ := writeRun(t, "minority-partition", 4)
	b, _ := writeRun(t, "minority-partition", 4)
	entries, err := os.ReadDir(a)
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	for _, e := range entries {
		x, err := os.ReadFile(filepath.Join(a, e.Name()))
		require.NoError(t, err)
		y, err := os.ReadFile(filepath.Join(b, e.Name()))
		require.NoError(t, err)
		assert.True(t, bytes.Equal(x, y), "%s differs between two runs of one seed", e.Name())
	}
}

func TestPerfettoTraceIsWellFormed(t *testing.T) {
	dir, _ := writeRun(t, "isolated-leader", 1)
	data, err := os.ReadFile(filepath.Join(dir, PerfettoFile))
	require.NoError(t, err)
	var doc struct {
		TraceEvents []struct {
			Name    string   `json:"name"`
			Ph      string   `json:"ph"`
			Ts      *float64 `json:"ts"`
			Dur     *float64 `json:"dur"`
			Pid     int      `json:"pid"`
			Tid     int      `json:"tid"`
			ID      string   `json:"id"`
			BindID  string   `json:"bind_id"`
			FlowIn  bool     `json:"flow_in"`
			FlowOut bool     `json:"flow_out"`
		} `json:"traceEvents"`
	}
	require.NoError(t, json.Unmarshal(data, &doc))
	require.NotEmpty(t, doc.TraceEvents)
	flows := map[string][2]int{}
	async := map[string]int{}
	type slice struct{ from, to float64 }
	tracks := map[[2]int][]slice{}
	end := 60 * 1e6 // microseconds
	kinds := map[string]int{}
	for _, e := range doc.TraceEvents {
		kinds[e.Ph]++
		require.NotNil(t, e.Ts, "%s has a timestamp", e.Name)
		assert.GreaterOrEqual(t, *e.Ts, 0.0)
		assert.LessOrEqual(t, *e.Ts, end+1, "timestamps are microseconds within the run")
		switch e.Ph {
		case "X":
			require.NotNil(t, e.Dur)
			tracks[[2]int{e.Pid, e.Tid}] = append(tracks[[2]int{e.Pid, e.Tid}], slice{*e.Ts, *e.Ts + *e.Dur})
			if e.BindID != "" {
				f := flows[e.BindID]
				if e.FlowOut {
					f[0]++
				}
				if e.FlowIn {
					f[1]++
				}
				flows[e.BindID] = f
			}
		case "b":
			async[e.ID]++
		case "e":
			async[e.ID]--
		}
	}
	for id, f := range flows {
		assert.Equal(t, [2]int{1, 1}, f, "flow %s has one start and one end", id)
	}
	for id, open := range async {
		assert.Zero(t, open, "async slice %s begins and ends", id)
	}
	for track, slices := range tracks {
		sort.Slice(slices, func(i, j int) bool { return slices[i].from < slices[j].from })
		for i := 1; i < len(slices); i++ {
			prev, cur := slices[i-1], slices[i]
			nested := cur.to <= prev.to
			assert.True(t, cur.from >= prev.to || nested, "track %v: slices overlap without nesting at %v", track, cur.from)
		}
	}
	assert.Positive(t, kinds["C"], "counters")
	assert.Positive(t, kinds["b"], "fault windows")
	assert.Positive(t, kinds["M"], "process names")
}

// handBuilt is a run result put together by hand, so the tables' numbers
// are known exactly.
func handBuilt() *runner.Result {
	sc := &scenarios.Scenario{Name: "hand", Cluster: cluster.Spec{Brokers: 2}}
	tp := cluster.TopicPartition{Topic: "t", Partition: 0}
	send := func(p string, typ cluster.OpType, payload int64) cluster.Op {
		return cluster.Op{Process: p, F: cluster.OpSend, Type: typ, TP: tp, Payload: payload, Acks: cluster.AcksAll, Idempotent: true}
	}
	return &runner.Result{
		Scenario: sc,
		History: cluster.HistoryOf(
			send("producer-1", cluster.Invoke, 1), send("producer-0", cluster.Invoke, 2), send("producer-0", cluster.Invoke, 3), send("producer-0", cluster.Invoke, 4),
			send("producer-1", cluster.Ok, 1), send("producer-0", cluster.Ok, 2), send("producer-0", cluster.Fail, 3),
		),
		Journal: []cluster.Event{
			{Kind: cluster.EvBecameLeader, TP: tp, Broker: 0, Epoch: 0},
			{Kind: cluster.EvBecameLeader, TP: tp, Broker: 1, Epoch: 1},
			{Kind: cluster.EvBecameLeader, TP: tp, Broker: 0, Epoch: 2},
		},
		Final:  []cluster.FinalLog{{TP: tp, Records: cluster.RecordsOf(cluster.Record{Offset: 0, Epoch: 0}, cluster.Record{Offset: 1, Epoch: 1}, cluster.Record{Offset: 2, Epoch: 1}, cluster.Record{Offset: 3, Epoch: 2})}},
		Faults: []runner.FaultRecord{{At: 10 * time.Second, Until: 20 * time.Second, Text: "crash broker-0", Hit: "broker-0"}},
		Detail: check.Availability{Recoveries: []check.Recovery{{WritesResumed: 8500 * time.Millisecond, FullyRecovered: -1}}},
		Checks: []check.Result{
			{Checker: "acked-durability", Violations: []check.Violation{{}, {}}},
			{Checker: "linearizable", Notes: []string{"a note"}},
		},
		Expectations: []runner.Outcome{{Name: "acked-durability", Want: "fail", Got: "fail (2 violations)", OK: true}},
	}
}

func TestTablesHoldTheRightNumbers(t *testing.T) {
	got := Tables(handBuilt())
	want := []Table{
		{Title: "checkers", Header: []string{"checker", "verdict", "violations", "notes"}, Rows: [][]string{
			{"acked-durability", "fail", "2", "0"},
			{"linearizable", "pass", "0", "1"},
		}},
		{Title: "producers", Header: []string{"producer", "acks", "idempotent", "sent", "ok", "failed", "unknown", "availability"}, Rows: [][]string{
			{"producer-0", "all", "true", "3", "1", "1", "1", "0.3333"},
			{"producer-1", "all", "true", "1", "1", "0", "0", "1.0000"},
		}},
		{Title: "faults", Header: []string{"at", "fault", "hit", "writes resumed after", "full ISR after"}, Rows: [][]string{
			{"10.000s", "crash broker-0", "broker-0", "8.5s", "never"},
		}},
		{Title: "brokers", Header: []string{"broker", "leaderships", "records appended as leader"}, Rows: [][]string{
			{"broker-0", "2", "2"},
			{"broker-1", "1", "2"},
		}},
		{Title: "expectations", Header: []string{"expectation", "want", "got", "holds"}, Rows: [][]string{
			{"acked-durability", "fail", "fail (2 violations)", "yes"},
		}},
	}
	assert.Empty(t, cmp.Diff(want, got))
}

func TestTablesRenderForTerminalAndMarkdown(t *testing.T) {
	table := Table{Title: "x", Header: []string{"a", "b"}, Rows: [][]string{{"1", "two"}}}
	var term, md bytes.Buffer
	require.NoError(t, table.Render(&term))
	require.NoError(t, table.Markdown(&md))
	assert.Contains(t, term.String(), "│ 1 │ two │")
	assert.Contains(t, md.String(), "| 1 | two |")
	assert.NotContains(t, md.String(), "│")
}
