package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const tinyCluster = "cluster: { brokers: 3, topics: [{ name: orders, partitions: 1, replication.factor: 3 }] }\n"

// aliasBomb is a few hundred bytes that a decoder would expand to ten
// billion values.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString("name: bomb\nduration: 30s\ncluster:\n  config:\n    a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&b, "    a%d: &a%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d, ", i-1), 10), ", "))
	}
	b.WriteString("    min.insync.replicas: *a9\n  topics: [{ name: orders, partitions: 1, replication.factor: 1 }]\n")
	return b.String()
}

func manyFaults(n int) string {
	var b strings.Builder
	b.WriteString("name: many\nduration: 30s\n" + tinyCluster + "faults:\n")
	for range n {
		b.WriteString("  - { at: 1s, pause: broker-0 }\n")
	}
	return b.String()
}

func traceWith(header string, lines ...string) string {
	return strings.Join(append([]string{header}, lines...), "\n") + "\n"
}

// Every bad input gets exit 2 and a message that says where, quickly and
// in bounded memory: none may hang, exhaust memory or end in a stack trace.
func TestBadInputsGetAClearAnswer(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
		return path
	}
	bomb := write("bomb.yaml", aliasBomb())
	shard := func(k string) string {
		path := filepath.Join(dir, "shard-"+strings.ReplaceAll(k, "/", "-")+".json")
		code, _, stderr := simulate("check", "-seeds", "1", "-shard", k, "-json", path, "single-broker", "manual-failover")
		require.Equal(t, exitOK, code, stderr)
		return path
	}
	quietBOM := write("bom.yaml", "\ufeffname: bom\nduration: 5s\nsettle: 2s\n"+tinyCluster)

	tests := []struct {
		name string
		args []string
		code int
		msg  string // a substring of stderr or stdout
		at   string // the position, as file:line:col, if any
	}{
		{"alias bomb", []string{"-scenario", bomb}, exitUsage, "aliases expand the document past 100000 values", "bomb.yaml:9:"},
		{"50000 nested mappings", []string{"-scenario", write("maps.yaml", "name: x\ndescription: "+strings.Repeat("{a: ", 50000)+"\n")}, exitUsage, "brackets nest deeper than 32 levels", "maps.yaml:2:"},
		{"100000 open brackets", []string{"-scenario", write("seqs.yaml", "name: x\nfaults: "+strings.Repeat("[", 100000)+"\n")}, exitUsage, "brackets nest deeper than 32 levels", "seqs.yaml:2:"},
		{"deep block nesting", []string{"-scenario", write("deep.yaml", "name: x\n"+deepBlock(40))}, exitUsage, "values nest deeper than 32 levels", "deep.yaml:"},
		{"2 MB file", []string{"-scenario", write("big.yaml", "name: x\ndescription: \""+strings.Repeat("x", 2<<20)+"\"\n")}, exitUsage, "larger than 1048576 bytes", "big.yaml:1:1"},
		{"1001 faults", []string{"-scenario", write("faults.yaml", manyFaults(1001))}, exitUsage, "a list with 1001 entries: at most 1000", "faults.yaml:5:3"},
		{"20 KiB description", []string{"-scenario", write("desc.yaml", "name: x\ndescription: "+strings.Repeat("y", 20<<10)+"\n"+tinyCluster)}, exitUsage, "a text of 20480 bytes", "desc.yaml:2:"},
		{"a million partitions", []string{"-scenario", write("parts.yaml", "name: x\ncluster: { topics: [{ name: o, partitions: 1000000, replication.factor: 3 }] }\n")}, exitUsage, "partitions 1000000, want 1 to 10000", "parts.yaml:2:"},
		{"100000 hours of load", []string{"-scenario", write("long.yaml", "name: x\nduration: 100000h\n"+tinyCluster+"workload: { producers: [{ topic: orders, rate: 1000/s }] }\n")}, exitUsage, "events is past the cap of 50000000 (raise it with -max-events)", ""},
		{"brokers: 0", []string{"-scenario", write("zero.yaml", "name: x\ncluster: { brokers: 0, topics: [{ name: o, partitions: 1, replication.factor: 1 }] }\n")}, exitUsage, "brokers: 0, want 1 to 100", "zero.yaml:2:21"},
		{"a node in two partition groups", []string{"-scenario", write("groups.yaml", "name: x\nduration: 30s\n"+tinyCluster+"faults:\n  - { at: 1s, partition: [[broker-0, broker-1], [broker-1, broker-2]] }\n")}, exitUsage, "broker-1 is in two groups", "groups.yaml:5:"},
		{"two YAML documents", []string{"-scenario", write("docs.yaml", "name: x\n"+tinyCluster+"---\nname: y\n")}, exitUsage, "holds one YAML document", "docs.yaml:3:1"},
		{"a list as a property value", []string{"-scenario", write("prop.yaml", "name: x\ncluster: { config: { min.insync.replicas: [1, 2] }, topics: [{ name: o, partitions: 1, replication.factor: 1 }] }\n")}, exitUsage, "a property takes one value", "prop.yaml:2:"},
		{"a UTF-8 byte-order mark is fine", []string{"-scenario", quietBOM, "-q"}, exitOK, "PASS bom", ""},
		{"a trace with only its header", []string{"-replay", write("header.trace", traceWith(`{"format":"tideline-trace/2","seed":1,"duration_ns":60000000000,"run":"leader-crash","input":"name: x"}`))}, exitUsage, "without its footer: it is incomplete", ""},
		{"an old trace", []string{"-replay", write("v1.trace", traceWith(`{"format":"tideline-trace/1","seed":1,"duration_ns":1}`))}, exitUsage, `format "tideline-trace/1", want "tideline-trace/2"`, ""},
		{"an alias bomb in a trace header", []string{"-replay", write("bomb.trace", traceWith(fmt.Sprintf(`{"format":"tideline-trace/2","seed":1,"duration_ns":30000000000,"run":"bomb","input":%q}`, aliasBomb()), `{"kind":"end","end":true}`))}, exitUsage, "aliases expand the document past 100000 values", ""},
		{"a stray argument", []string{"-scenario", "leader-crash", "extra"}, exitUsage, `unexpected argument "extra"`, ""},
		{"a misspelt flag", []string{"-scenario", "leader-crash", "-seeds", "3"}, exitUsage, "unknown flag -seeds (did you mean -seed?)", ""},
		{"check with an empty shard", []string{"check", "-seeds", "1", "-shard", "20/20", "single-broker"}, exitUsage, "holds none", ""},
		{"merge -h", []string{"merge", "-h"}, exitOK, "complete set", ""},
		{"explore -h", []string{"explore", "-h"}, exitOK, "Draws random faults", ""},
		{"shrink -h", []string{"shrink", "-h"}, exitOK, "Shrinks a failing scenario", ""},
		{"check -h", []string{"check", "-h"}, exitOK, "the CI gate", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr, alloc, took := measured(tt.args...)
			t.Logf("%v, %d MB allocated", took.Round(time.Millisecond), alloc>>20)
			assert.Equal(t, tt.code, code, "stdout %q\nstderr %q", clip(stdout), clip(stderr))
			assert.Contains(t, stdout+stderr, tt.msg)
			if tt.at != "" {
				assert.Regexp(t, regexp.QuoteMeta(tt.at)+`[0-9]*:?[0-9]*: `, stderr)
			}
			assert.NotContains(t, stderr, "goroutine ", "no stack trace")
			assert.Less(t, alloc, uint64(256<<20), "memory stays bounded")
			assert.Less(t, took, 5*time.Second)
		})
	}

	// The CI gate: merge takes one complete set of shards, nothing else.
	one, two := shard("1/2"), shard("2/2")
	null := write("null.json", "null\n")
	other := filepath.Join(dir, "other.json")
	code, _, _ := simulate("check", "-seeds", "2", "-shard", "1/2", "-json", other, "single-broker", "manual-failover")
	require.Equal(t, exitOK, code)
	summaryDir := filepath.Join(dir, "out")
	code, _, stderr := simulate("-scenario", "single-broker", "-out", summaryDir, "-trace=false", "-q")
	require.Equal(t, exitOK, code, stderr)
	bogus := write("seven-of-three.json", strings.Replace(mustRead(t, one), `"shard": "1/2"`, `"shard": "7/3"`, 1))
	merges := []struct {
		name  string
		files []string
		code  int
		msg   string
	}{
		{"the whole set", []string{one, two}, exitOK, "merged 2 shards"},
		{"one shard twice", []string{one, one}, exitUsage, "again"},
		{"a shard missing", []string{one}, exitUsage, "shards missing: 2/2"},
		{"null", []string{null}, exitUsage, "not a check -json file"},
		{"a summary.json", []string{filepath.Join(summaryDir, "summary.json")}, exitUsage, "not a check -json file"},
		{"shard 7 of 3", []string{bogus, two}, exitUsage, `shard "7/3"`},
		{"shards of other seeds", []string{other, two}, exitUsage, "ran other scenarios or seeds"},
	}
	for _, tt := range merges {
		t.Run("merge "+tt.name, func(t *testing.T) {
			code, stdout, stderr := simulate(append([]string{"merge"}, tt.files...)...)
			assert.Equal(t, tt.code, code, "stdout %q\nstderr %q", clip(stdout), clip(stderr))
			assert.Contains(t, stdout+stderr, tt.msg)
		})
	}
}

// measured runs simulate and says how much it allocated and how long it took.
func measured(args ...string) (code int, stdout, stderr string, alloc uint64, took time.Duration) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	code, stdout, stderr = simulate(args...)
	took = time.Since(start)
	runtime.ReadMemStats(&after)
	return code, stdout, stderr, after.TotalAlloc - before.TotalAlloc, took
}

func deepBlock(levels int) string {
	var b strings.Builder
	for i := range levels {
		fmt.Fprintf(&b, "%sa%d:\n", strings.Repeat("  ", i), i)
	}
	return b.String()
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

func mustRead(t *testing.T, path string) string {
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(data)
}
