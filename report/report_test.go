package report

import (
	"bytes"
	"encoding/xml"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/plot/vg"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/tideline-sim/tideline/check"
	"github.com/tideline-sim/tideline/cluster"
	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/runner"
	"github.com/tideline-sim/tideline/scenarios"
)

// writeRun runs a built-in scenario and writes every artefact to a fresh
// folder.
func writeRun(t *testing.T, name string, seed uint64) (string, *runner.Result) {
	t.Helper()
	sc, err := scenarios.Builtin(name)
	require.NoError(t, err)
	dir := t.TempDir()
	out, err := Open(dir, true)
	require.NoError(t, err)
	opts := runner.Options{Seed: seed}
	out.Options(&opts)
	res, err := runner.Run(sc, opts)
	require.NoError(t, err)
	require.NoError(t, out.Finish(res, "simulate -scenario "+name))
	return dir, res
}

func TestPlotsRenderAsPNGAndSVG(t *testing.T) {
	dir, _ := writeRun(t, "leader-crash", 1)
	panels := map[string]int{AvailabilityPlot: 2, LatencyPlot: 3, ReplicationPlot: 3}
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

// The Perfetto trace decodes as Perfetto's protos say: every event on a
// described track, interned names defined before use, one start and one
// end to every flow, slices begun and ended in pairs, times within the run.
func TestPerfettoTraceIsWellFormed(t *testing.T) {
	dir, _ := writeRun(t, "isolated-leader", 1)
	data, err := os.ReadFile(filepath.Join(dir, PerfettoFile))
	require.NoError(t, err)
	fields := func(b []byte, each func(num protowire.Number, typ protowire.Type, v []byte, x uint64)) {
		for len(b) > 0 {
			num, typ, n := protowire.ConsumeTag(b)
			require.Positive(t, n, "a tag")
			b = b[n:]
			var v []byte
			var x uint64
			switch typ {
			case protowire.VarintType:
				x, n = protowire.ConsumeVarint(b)
			case protowire.Fixed64Type:
				x, n = protowire.ConsumeFixed64(b)
			case protowire.BytesType:
				v, n = protowire.ConsumeBytes(b)
			default:
				t.Fatalf("unexpected wire type %v", typ)
			}
			require.Positive(t, n, "field %d", num)
			b = b[n:]
			each(num, typ, v, x)
		}
	}
	tracks := map[uint64]string{}
	names, annotations := map[uint64]string{}, map[uint64]string{}
	var processes []string
	flows := map[uint64][2]int{}
	open := map[uint64]int{}
	kinds := map[uint64]int{}
	const end = uint64(60 * time.Second)
	packets := 0
	fields(data, func(num protowire.Number, _ protowire.Type, packet []byte, _ uint64) {
		require.Equal(t, protowire.Number(fTracePacket), num, "the file is a Trace of packets")
		packets++
		var ts uint64
		fields(packet, func(num protowire.Number, _ protowire.Type, v []byte, x uint64) {
			switch num {
			case fPacketTimestamp:
				ts = x
				assert.LessOrEqual(t, ts, end, "timestamps are within the run")
			case fPacketInternedData:
				fields(v, func(table protowire.Number, _ protowire.Type, entry []byte, _ uint64) {
					var iid uint64
					var name string
					fields(entry, func(num protowire.Number, _ protowire.Type, v []byte, x uint64) {
						if num == fInternedIID {
							iid = x
						} else {
							name = string(v)
						}
					})
					if table == fInternedEventNames {
						names[iid] = name
					} else {
						annotations[iid] = name
					}
				})
			case fPacketTrackDescriptor:
				var uuid uint64
				name := ""
				fields(v, func(num protowire.Number, _ protowire.Type, v []byte, x uint64) {
					switch num {
					case fTrackUUID:
						uuid = x
					case fTrackName:
						name = string(v)
					case fTrackProcess:
						fields(v, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) {
							if num == fProcessName {
								name = string(v)
								processes = append(processes, name)
							}
						})
					case fTrackThread:
						fields(v, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) {
							if num == fThreadName {
								name = string(v)
							}
						})
					}
				})
				assert.NotContains(t, tracks, uuid, "a track is described once")
				tracks[uuid] = name
			case fPacketTrackEvent:
				var kind, track uint64
				fields(v, func(num protowire.Number, _ protowire.Type, v []byte, x uint64) {
					switch num {
					case fEventType:
						kind = x
					case fEventTrackUUID:
						track = x
					case fEventNameIID:
						assert.Contains(t, names, x, "event names are interned before use")
					case fEventFlow:
						f := flows[x]
						f[0]++
						flows[x] = f
					case fEventEndFlow:
						f := flows[x]
						f[1]++
						flows[x] = f
					case fEventAnnotations:
						fields(v, func(num protowire.Number, _ protowire.Type, _ []byte, x uint64) {
							if num == fAnnotationNameIID {
								assert.Contains(t, annotations, x, "annotation names are interned before use")
							}
						})
					}
				})
				assert.Contains(t, tracks, track, "events are on described tracks")
				kinds[kind]++
				switch kind {
				case typeSliceBegin:
					open[track]++
				case typeSliceEnd:
					open[track]--
					assert.GreaterOrEqual(t, open[track], 0, "a slice ends after it begins on track %q", tracks[track])
				}
			}
		})
	})
	require.Positive(t, packets)
	for id, f := range flows {
		assert.Equal(t, [2]int{1, 1}, f, "flow %d has one start and one end", id)
	}
	for track, n := range open {
		assert.Zero(t, n, "every slice on %q ends", tracks[track])
	}
	assert.Subset(t, processes, []string{"broker-0", "broker-1", "broker-2", "controller-0", "controller-1", "controller-2", "faults", "partitions"})
	assert.Positive(t, kinds[typeCounter], "counters")
	assert.Positive(t, kinds[typeSliceBegin], "leaderships and fault windows")
	assert.Positive(t, kinds[typeInstant], "messages")
	assert.NotEmpty(t, flows, "message flows")
}

// handBuilt is a run result put together by hand, so the tables' numbers
// are known exactly.
func handBuilt() *runner.Result {
	sc := &scenarios.Scenario{Name: "hand", Cluster: cluster.Spec{Brokers: 2}}
	tp := protocol.TopicPartition{Topic: "t", Partition: 0}
	send := func(p string, typ journal.OpType, payload int64) journal.Op {
		return journal.Op{Process: p, F: journal.OpSend, Type: typ, TP: tp, Payload: payload, Acks: config.AcksAll, Idempotent: true}
	}
	return &runner.Result{
		Scenario:  sc,
		Producers: []journal.ProducerMetrics{{Batches: 2, BatchRecords: 3, Requests: 3, Retries: 1, MaxInFlight: 2}},
		History: journal.HistoryOf(
			send("producer-1", journal.Invoke, 1), send("producer-0", journal.Invoke, 2), send("producer-0", journal.Invoke, 3), send("producer-0", journal.Invoke, 4),
			send("producer-1", journal.Ok, 1), send("producer-0", journal.Ok, 2), send("producer-0", journal.Fail, 3),
		),
		Journal: []journal.Event{
			{Kind: journal.EvBecameLeader, TP: tp, Broker: 0, Epoch: 0},
			{Kind: journal.EvBecameLeader, TP: tp, Broker: 1, Epoch: 1},
			{Kind: journal.EvBecameLeader, TP: tp, Broker: 0, Epoch: 2},
		},
		Final:  []cluster.FinalLog{{TP: tp, Records: protocol.RecordsOf(protocol.Record{Offset: 0, Epoch: 0}, protocol.Record{Offset: 1, Epoch: 1}, protocol.Record{Offset: 2, Epoch: 1}, protocol.Record{Offset: 3, Epoch: 2})}},
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
		{Title: "producers", Header: []string{"producer", "acks", "idempotent", "sent", "ok", "failed", "unknown", "eventually acknowledged",
			"batches", "avg batch", "requests", "in flight (max)", "retries"}, Rows: [][]string{
			{"producer-0", "all", "true", "3", "1", "1", "1", "0.3333", "2", "1.5", "3", "2", "1"},
			{"producer-1", "all", "true", "1", "1", "0", "0", "1.0000", "0", "0.0", "0", "0", "0"},
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

// BenchmarkOut is leader-crash as simulate -out runs it (the run with its
// trace streamed to disk, then the Perfetto trace, plots and report), and
// without -out, with the collector set as simulate sets it: the issue's
// bound is that -out costs at most as much again.
func BenchmarkOut(b *testing.B) {
	defer debug.SetGCPercent(debug.SetGCPercent(runner.GCPercent))
	sc, err := scenarios.Builtin("leader-crash")
	require.NoError(b, err)
	b.Run("run", func(b *testing.B) {
		for b.Loop() {
			_, err := runner.Run(sc, runner.Options{Seed: 1})
			require.NoError(b, err)
		}
	})
	b.Run("run-with-out", func(b *testing.B) {
		dir := b.TempDir()
		for b.Loop() {
			out, err := Open(dir, true)
			require.NoError(b, err)
			opts := runner.Options{Seed: 1}
			out.Options(&opts)
			res, err := runner.Run(sc, opts)
			require.NoError(b, err)
			require.NoError(b, out.Finish(res, "simulate -scenario leader-crash"))
		}
	})
}

// A run killed by a signal before it could remove its temporaries (or on
// a machine where the handler never ran) leaves hidden files; the next run
// into the folder removes them, and nothing that is not ours.
func TestPrepareRemovesTemporariesAKilledRunLeft(t *testing.T) {
	dir := t.TempDir()
	left := []string{".run.trace.123456.tmp", ".run.perfetto-trace.9.tmp", ".summary.json.77.tmp", ".availability.png.5.tmp"}
	mine := []string{"notes.txt", ".hidden.tmp"}
	for _, name := range append(slices.Clone(left), mine...) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644))
	}
	require.NoError(t, Prepare(dir))
	for _, name := range left {
		assert.NoFileExists(t, filepath.Join(dir, name))
	}
	for _, name := range mine {
		assert.FileExists(t, filepath.Join(dir, name))
	}
}
