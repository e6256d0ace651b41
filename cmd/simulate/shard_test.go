package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestShardComesFromAnIndexedJobsEnvironment(t *testing.T) {
	env := func(index, count string) func(string) string {
		return func(name string) string {
			return map[string]string{envShardIndex: index, envShardCount: count}[name]
		}
	}
	for _, c := range []struct {
		flag         string
		given        bool
		index, count string
		k, n         int
		bad          bool
	}{
		{"1/1", false, "", "", 1, 1, false},
		{"1/1", false, "0", "4", 1, 4, false},
		{"1/1", false, "3", "4", 4, 4, false},
		{"2/3", true, "0", "4", 2, 3, false}, // the flag wins
		{"1/1", false, "4", "4", 0, 0, true}, // index past the count
		{"1/1", false, "2", "", 0, 0, true},  // no count
		{"1/1", false, "x", "4", 0, 0, true},
		{"0/3", true, "", "", 0, 0, true},
	} {
		k, n, _, err := shardOf(c.flag, c.given, env(c.index, c.count))
		if c.bad {
			assert.Error(t, err, "%+v", c)
			continue
		}
		require.NoError(t, err, "%+v", c)
		assert.Equal(t, [2]int{c.k, c.n}, [2]int{k, n}, "%+v", c)
	}
}

// Seven shards of a check, some named by the environment as a Kubernetes
// Indexed Job names them, merge to the whole; a missing or repeated shard
// is refused.
func TestManyShardsFromTheEnvironmentMergeToTheWhole(t *testing.T) {
	dir := t.TempDir()
	const n = 7
	var files []string
	for k := 1; k <= n; k++ {
		file := filepath.Join(dir, fmt.Sprintf("shard-%d.json", k))
		if k%2 == 0 {
			t.Setenv(envShardIndex, fmt.Sprint(k-1))
			t.Setenv(envShardCount, fmt.Sprint(n))
			code, out, errs := simulate("check", "-seeds", "3", "-json", file, "leader-crash", "follower-crash", "baseline")
			require.Equal(t, exitOK, code, out+errs)
			assert.Contains(t, out, fmt.Sprintf("shard %d/%d", k, n))
			os.Unsetenv(envShardIndex)
			os.Unsetenv(envShardCount)
		} else {
			code, out, errs := simulate("check", "-seeds", "3", "-shard", fmt.Sprintf("%d/%d", k, n), "-json", file, "leader-crash", "follower-crash", "baseline")
			require.Equal(t, exitOK, code, out+errs)
		}
		files = append(files, file)
	}
	code, merged, _ := simulate(append([]string{"merge"}, files...)...)
	assert.Equal(t, exitOK, code)
	assert.Contains(t, merged, "PASS: all 9 runs met their expectations")
	code, _, errs := simulate(append([]string{"merge"}, files[1:]...)...)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errs, "shards missing: 1/7")
	code, _, errs = simulate(append([]string{"merge"}, append(files, files[2])...)...)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errs, "again")
}

// An exploration split three ways and merged finds and reaches what the
// whole does.
func TestExploreShardsMergeToTheWhole(t *testing.T) {
	dir := t.TempDir()
	args := []string{"explore", "-scenario", "../../examples/explore-acks1.yaml", "-seeds", "6", "-shrink=false", "-out", filepath.Join(dir, "out")}
	_, whole, _ := simulate(args...)
	var files []string
	for k := 1; k <= 3; k++ {
		file := filepath.Join(dir, fmt.Sprintf("explore-%d.json", k))
		simulate(append(args, "-shard", fmt.Sprintf("%d/3", k), "-json", file)...)
		files = append(files, file)
	}
	_, merged, errs := simulate(append([]string{"merge"}, files...)...)
	require.Contains(t, merged, "merged 3 shards", errs)
	after := func(s, from string) string {
		_, rest, _ := strings.Cut(s, from)
		return rest[:strings.LastIndex(rest, "┘")] // to the end of the coverage table
	}
	assert.Equal(t, after(whole, "explored 6 seeds"), after(merged, "explored 6 seeds"), "the same violations and coverage")
}

// A sweep is deterministic, its shards merge to the same table, and a bad
// grid is refused with a did-you-mean.
func TestSweepShardsMergeToTheWholeSweep(t *testing.T) {
	dir := t.TempDir()
	grid := []string{"sweep", "-scenario", "leader-crash", "-vary", "acks=1,all", "-seeds", "2"}
	code, whole, errs := simulate(append(grid, "-out", filepath.Join(dir, "a"))...)
	require.Equal(t, exitOK, code, errs)
	assert.Contains(t, whole, "acks")
	_, again, _ := simulate(append(grid, "-out", filepath.Join(dir, "b"))...)
	assert.Equal(t, strings.ReplaceAll(whole, filepath.Join(dir, "a"), ""), strings.ReplaceAll(again, filepath.Join(dir, "b"), ""))
	for _, name := range []string{"availability.png", "lost-mean.svg"} {
		a, err := os.ReadFile(filepath.Join(dir, "a", name))
		require.NoError(t, err)
		b, err := os.ReadFile(filepath.Join(dir, "b", name))
		require.NoError(t, err)
		assert.Equal(t, a, b, "%s: the same grid and seeds give the same bytes", name)
	}
	var files []string
	for k := 1; k <= 3; k++ {
		file := filepath.Join(dir, fmt.Sprintf("sweep-%d.json", k))
		code, _, errs := simulate(append(grid, "-shard", fmt.Sprintf("%d/3", k), "-json", file)...)
		require.Equal(t, exitOK, code, errs)
		files = append(files, file)
	}
	code, merged, errs := simulate(append([]string{"merge", "-out", filepath.Join(dir, "c")}, files...)...)
	require.Equal(t, exitOK, code, errs)
	table := func(s string) string {
		_, rest, _ := strings.Cut(s, "┌")
		rest, _, _ = strings.Cut(rest, "report:")
		return rest
	}
	assert.Equal(t, table(whole), table(merged))
	a, _ := os.ReadFile(filepath.Join(dir, "a", "lost-mean.png"))
	c, _ := os.ReadFile(filepath.Join(dir, "c", "lost-mean.png"))
	assert.Equal(t, a, c, "merged shards draw the same heatmap")

	code, _, errs = simulate("sweep", "-scenario", "leader-crash", "-vary", "ack=1,all")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errs, `did you mean "acks"?`)
	code, _, errs = simulate("sweep", "-scenario", "leader-crash", "-vary", "acks=2")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errs, "want 0, 1 or all")
}
