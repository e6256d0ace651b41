package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func simulate(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestGoldenLeaderCrash(t *testing.T) {
	code, out, stderr := simulate("-scenario", "leader-crash", "-seed", "1")
	require.Equal(t, exitOK, code, stderr)
	golden := filepath.Join("..", "..", "testdata", "golden", "leader-crash-seed1.txt")
	if *update {
		require.NoError(t, os.WriteFile(golden, []byte(out), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "run with -update to create it")
	assert.Equal(t, string(want), out, "output changed; if on purpose: go test ./cmd/simulate -update")
}

func TestSameSeedSameBytes(t *testing.T) {
	_, a, _ := simulate("-scenario", "leader-crash.yaml", "-seed", "7")
	_, b, _ := simulate("-scenario", "leader-crash.yaml", "-seed", "7")
	assert.Equal(t, a, b)
	assert.Contains(t, a, "seed 7")
}

func TestBadScenarioExitsTwoWithPosition(t *testing.T) {
	files, err := filepath.Glob("../../testdata/scenarios/bad/*.yaml")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 12)
	for _, f := range files {
		code, out, stderr := simulate("-scenario", f)
		assert.Equal(t, exitUsage, code, f)
		assert.Empty(t, out, f)
		assert.Regexp(t, `^simulate: .*\.yaml:\d+:\d+: `, stderr, f)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-scenario"},
		{"-scenario", "leader-crash", "-seed", "minus-one"},
		{"-scenario", "no-such-scenario"},
		{"-scenario", "leader-crash", "stray"},
		{"-nonsense"},
		{"-scenario", "leader-crash", "-duration", "5s"},
	} {
		code, _, stderr := simulate(args...)
		assert.Equal(t, exitUsage, code, "%v: %s", args, stderr)
		assert.NotEmpty(t, stderr, "%v says why", args)
	}
}

func TestFailingExpectationExitsOne(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wrong.yaml")
	require.NoError(t, os.WriteFile(path, []byte(falseExpectation), 0o644))
	code, out, _ := simulate("-scenario", path)
	assert.Equal(t, exitFail, code)
	assert.Contains(t, out, "FAIL: an expectation does not hold")
}

func TestListNamesEveryBuiltin(t *testing.T) {
	code, out, _ := simulate("-list")
	require.Equal(t, exitOK, code)
	for _, name := range []string{"leader-crash", "single-broker", "follower-crash", "rolling-restart", "acks1-leader-crash",
		"unclean-election", "isolated-leader", "minority-partition", "slow-follower", "kip101-divergence",
		"power-loss-all", "controller-crash", "manual-failover", "flaky-network"} {
		assert.Contains(t, out, name+" ")
	}
}

func TestOutputsAndReplay(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := simulate("-scenario", "isolated-leader", "-seed", "3", "-out", dir, "-q")
	require.Equal(t, exitOK, code, stderr)

	var summary map[string]any
	data, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &summary))
	assert.Equal(t, "isolated-leader", summary["scenario"])
	assert.Equal(t, true, summary["ok"])

	trace := filepath.Join(dir, "run.trace")
	code, out, stderr := simulate("-replay", trace)
	require.Equal(t, exitOK, code, stderr)
	assert.Regexp(t, `^replay: identical \(\d+ events, trace [0-9a-f]{16}\)`, out)

	// Doctor one event in the middle: the replay must name it.
	raw, err := os.ReadFile(trace)
	require.NoError(t, err)
	lines := strings.Split(string(raw), "\n")
	target := len(lines) / 2
	var entry map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[target]), &entry))
	entry["hash"] = "0000000000000000"
	doctored, err := json.Marshal(entry)
	require.NoError(t, err)
	lines[target] = string(doctored)
	bad := filepath.Join(dir, "doctored.trace")
	require.NoError(t, os.WriteFile(bad, []byte(strings.Join(lines, "\n")), 0o644))
	code, out, _ = simulate("-replay", bad)
	assert.Equal(t, exitFail, code)
	assert.Contains(t, out, "replay diverged at event")
	assert.Contains(t, out, "recorded #"+jsonNumber(entry["i"]))
}

func jsonNumber(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// The README's comparison puts -out after the scenario names.
func TestCompareTakesFlagsAfterTheScenarios(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := simulate("-compare", "acks1-leader-crash", "leader-crash", "-out", dir, "-seed", "2")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "acks1-leader-crash")
	assert.FileExists(t, filepath.Join(dir, "compare-availability.png"))
}

// A reused -out folder holds only this run's artefacts: a trace left by an
// earlier run is removed when this one writes none, and so is an old
// visualisation, so that -replay never compares against the wrong run.
func TestOutHoldsOnlyThisRun(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := simulate("-scenario", "single-broker", "-out", dir, "-q")
	require.Equal(t, exitOK, code, stderr)
	require.FileExists(t, filepath.Join(dir, "run.trace"))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "linearizable-orders-0.html"), []byte("old"), 0o644))
	code, _, stderr = simulate("-scenario", "leader-crash", "-out", dir, "-trace=false", "-q")
	require.Equal(t, exitOK, code, stderr)
	assert.NoFileExists(t, filepath.Join(dir, "run.trace"))
	assert.NoFileExists(t, filepath.Join(dir, "linearizable-orders-0.html"))
	summary, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	require.NoError(t, err)
	assert.Contains(t, string(summary), `"scenario": "leader-crash"`)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		assert.False(t, strings.HasPrefix(e.Name(), "."), "no temporary file left: %s", e.Name())
	}

	// An unwritable -out is refused before the run.
	code, _, stderr = simulate("-scenario", "leader-crash", "-out", filepath.Join(dir, "summary.json", "x"), "-q")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "-out")
}

// -compare -out prepares its folder as a run does: an earlier run's report
// does not stay beside the comparison, which writes a report of its own
// that says what the scenarios set differently.
func TestCompareOutReplacesAnEarlierRunsReport(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := simulate("-scenario", "single-broker", "-out", dir, "-trace=false", "-q")
	require.Equal(t, exitOK, code, stderr)
	code, stdout, stderr := simulate("-compare", "../../examples/leader-crash-acks1.yaml", "leader-crash", "-out", dir)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "producers: 500/s acks=1 idempotence=false | 500/s acks=all idempotence=true")
	assert.NoFileExists(t, filepath.Join(dir, "summary.json"))
	assert.NoFileExists(t, filepath.Join(dir, "availability.png"))
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	require.NoError(t, err)
	assert.Contains(t, string(md), "# tideline comparison")
	assert.Contains(t, string(md), "- producers: 500/s acks=1")
	assert.FileExists(t, filepath.Join(dir, "compare-availability.png"))
}
