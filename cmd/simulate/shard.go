package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
)

// Environment that names a shard when -shard is not given: a Kubernetes
// Indexed Job sets JOB_COMPLETION_INDEX (0-based) in each pod; the job's
// manifest sets TIDELINE_SHARDS to its completions.
const (
	envShardIndex = "JOB_COMPLETION_INDEX"
	envShardCount = "TIDELINE_SHARDS"
)

// shardOf resolves a subcommand's shard: the -shard flag when given, else
// the environment of an indexed job, else 1/1. from says where it came from.
func shardOf(flagValue string, flagSet bool, getenv func(string) string) (k, n int, from string, err error) {
	if flagSet {
		k, n, err = parseShard(flagValue)
		if err != nil {
			return 0, 0, "", fmt.Errorf("-shard %q: want k/n with 1 <= k <= n", flagValue)
		}
		return k, n, "-shard", nil
	}
	index, count := strings.TrimSpace(getenv(envShardIndex)), strings.TrimSpace(getenv(envShardCount))
	if index == "" && count == "" {
		return 1, 1, "", nil
	}
	i, ierr := strconv.Atoi(index)
	c, cerr := strconv.Atoi(count)
	if ierr != nil || cerr != nil || c < 1 || i < 0 || i >= c {
		return 0, 0, "", fmt.Errorf("%s=%q and %s=%q: want a completion index from 0 below a shard count (set both, or -shard k/n)",
			envShardIndex, index, envShardCount, count)
	}
	return i + 1, c, envShardIndex, nil
}

// flagGiven reports whether the flag was set on the command line.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// shardSet follows the shards a merge reads: all n of them, each once.
type shardSet struct {
	n     int
	first string
	seen  map[int]string
}

// add records path's shard k/n; the first file sets n.
func (s *shardSet) add(path, shard string) (k int, err error) {
	k, n, err := parseShard(shard)
	if err != nil {
		return 0, fmt.Errorf("%s: shard %q: want k/n with 1 <= k <= n", path, shard)
	}
	if s.seen == nil {
		s.n, s.first, s.seen = n, path, map[int]string{}
	}
	switch {
	case n != s.n:
		return 0, fmt.Errorf("%s: shard %s is of %d shards, %s of %d", path, shard, n, s.first, s.n)
	case s.seen[k] != "":
		return 0, fmt.Errorf("%s: shard %s again (already in %s)", path, shard, s.seen[k])
	}
	s.seen[k] = path
	return k, nil
}

// complete reports the shards not read.
func (s *shardSet) complete() error {
	var missing []string
	for k := 1; k <= s.n; k++ {
		if s.seen[k] == "" {
			missing = append(missing, fmt.Sprintf("%d/%d", k, s.n))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("shards missing: %s", strings.Join(missing, ", "))
	}
	return nil
}
