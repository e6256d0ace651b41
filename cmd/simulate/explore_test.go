package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const falseExpectation = `
name: false-expectation
description: acks=1 with paused followers and a leader crash, expected (wrongly) to lose nothing.
duration: 30s
cluster:
  brokers: 3
  topics: [{ name: orders, partitions: 1, replication.factor: 3 }]
workload:
  producers: [{ topic: orders, rate: 500/s, acks: 1 }]
faults:
  - { at: 9s, pause: broker-1, for: 1500ms }
  - { at: 9s, pause: broker-2, for: 1500ms }
  - { at: 10s, crash: leader(orders/0) }
expect:
  acked-durability: pass
`

func TestCheckExitsOneOnAFalseExpectation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "false.yaml")
	require.NoError(t, os.WriteFile(path, []byte(falseExpectation), 0o644))
	code, out, _ := simulate("check", "-seeds", "2", path)
	assert.Equal(t, exitFail, code)
	assert.Contains(t, out, "FAIL: 2 of 2 runs did not meet their expectations")
	assert.Contains(t, out, "acked-durability: want pass, got fail")
}

func TestCheckShardsMergeToTheWhole(t *testing.T) {
	dir := t.TempDir()
	whole := filepath.Join(dir, "whole.json")
	code, out, _ := simulate("check", "-seeds", "2", "-json", whole, "leader-crash", "follower-crash", "baseline")
	require.Equal(t, exitOK, code, out)
	assert.Contains(t, out, "PASS: all 6 runs met their expectations")
	var shards []string
	for _, k := range []string{"1/2", "2/2"} {
		file := filepath.Join(dir, "shard-"+k[:1]+".json")
		code, _, _ := simulate("check", "-seeds", "2", "-shard", k, "-json", file, "leader-crash", "follower-crash", "baseline")
		require.Equal(t, exitOK, code)
		shards = append(shards, file)
	}
	code, merged, _ := simulate(append([]string{"merge"}, shards...)...)
	assert.Equal(t, exitOK, code)
	assert.Contains(t, merged, "PASS: all 6 runs met their expectations")
	code, _, _ = simulate("check", "-shard", "3/2")
	assert.Equal(t, exitUsage, code)
}

func TestExploreWritesFailingSeedsAndShrinks(t *testing.T) {
	dir := t.TempDir()
	code, out, stderr := simulate("explore", "-scenario", "../../examples/explore-acks1.yaml", "-start", "3", "-seeds", "1", "-out", dir)
	assert.Equal(t, exitFail, code, stderr)
	assert.Contains(t, out, "acked-durability")
	assert.Contains(t, out, "coverage (protocol paths reached)")
	assert.FileExists(t, filepath.Join(dir, "seed-3.yaml"))
	assert.FileExists(t, filepath.Join(dir, "shrunk-acked-durability.yaml"))

	// The written seed reproduces on its own.
	code, out, _ = simulate("-scenario", filepath.Join(dir, "seed-3.yaml"), "-q")
	assert.Equal(t, exitFail, code)
	assert.Contains(t, out, "FAIL explore-acks1-seed-3 seed 3")
}

func TestExploreWithinClaimsOfTheBaselineFindsNothing(t *testing.T) {
	code, out, _ := simulate("explore", "-seeds", "20", "-out", t.TempDir())
	assert.Equal(t, exitOK, code, out)
	assert.Contains(t, out, "no violations")
}
