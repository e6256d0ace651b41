package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
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

// manyTopics is a cluster of n topics of the given partitions each.
func manyTopics(n, partitions, rf int) string {
	var b strings.Builder
	b.WriteString("name: many\ncluster:\n  brokers: 4\n  topics:\n")
	for i := range n {
		fmt.Fprintf(&b, "    - { name: t%d, partitions: %d, replication.factor: %d }\n", i, partitions, rf)
	}
	return b.String()
}

// clusterConfig is a small cluster with one broker property set.
func clusterConfig(property string) string {
	return "name: x\ncluster: { brokers: 3, config: { " + property + " }, topics: [{ name: orders, partitions: 1, replication.factor: 3 }] }\n"
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
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
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
		{"a million partitions", []string{"-scenario", write("parts.yaml", "name: x\ncluster: { topics: [{ name: o, partitions: 1000000, replication.factor: 3 }] }\n")}, exitUsage, "partitions: 1000000, want 1 to 200000", "parts.yaml:2:"},
		{"100000 hours of load", []string{"-scenario", write("long.yaml", "name: x\nduration: 100000h\n"+tinyCluster+"workload: { producers: [{ topic: orders, rate: 1000/s }] }\n")}, exitUsage, "longer than 24h0m0s", "long.yaml:2:11"},
		{"20 hours of load", []string{"-scenario", write("long20.yaml", "name: x\nduration: 20h\n"+tinyCluster+"workload: { producers: [{ topic: orders, rate: 1000/s }] }\n")}, exitUsage, "events is past the cap of 50000000 (raise it with -max-events)", ""},
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
		// Limits for the whole scenario, not per part.
		{"101 topics of 2000 partitions", []string{"-scenario", write("topics.yaml", manyTopics(101, 2000, 1))}, exitUsage, "202000 partitions together up to here: at most 200000 in all", "topics.yaml:105:"},
		{"two topics of 120000 partitions", []string{"-scenario", write("two.yaml", manyTopics(2, 120000, 1))}, exitUsage, "240000 partitions together", "two.yaml:6:"},
		{"800000 replicas", []string{"-scenario", write("replicas.yaml", manyTopics(4, 50000, 4))}, exitUsage, "800000 replicas together up to here: at most 600000", "replicas.yaml:"},
		{"101 clients", []string{"-scenario", write("clients.yaml", "name: x\n"+tinyCluster+"workload:\n  consumers: ["+strings.TrimSuffix(strings.Repeat("{ topic: orders }, ", 101), ", ")+"]\n")}, exitUsage, "101 producers and consumers: at most 100 in all", "clients.yaml:4:"},
		{"4 brokers with 200000 partitions cost too much", []string{"-scenario", write("heavy.yaml", manyTopics(2, 100000, 3))}, exitUsage, "past the cap", ""},
		// Values that overflow or never deliver.
		{"replica.lag.time.max.ms at 2^63-1", []string{"-scenario", write("lag.yaml", clusterConfig("replica.lag.time.max.ms: 9223372036854775807"))}, exitUsage, "want 1 to 2147483647", "lag.yaml:2:"},
		{"broker.session.timeout.ms at 2^63-1", []string{"-scenario", write("session.yaml", clusterConfig("broker.session.timeout.ms: 9223372036854775807"))}, exitUsage, "want 1 to 2147483647", "session.yaml:2:"},
		{"a heartbeat slower than the session", []string{"-scenario", write("hb.yaml", clusterConfig("broker.heartbeat.interval.ms: 20000"))}, exitUsage, "more than broker.session.timeout.ms 9000", "hb.yaml:2:"},
		{"an availability deadline past Kafka's INT", []string{"-scenario", write("deadline.yaml", clusterConfig("tideline.availability.deadline.ms: 4294967296"))}, exitUsage, "want 1 to 2147483647", "deadline.yaml:2:"},
		{"a flush interval of 2^63 ms", []string{"-scenario", write("flush.yaml", clusterConfig("log.flush.interval.ms: 9223372036854775807"))}, exitUsage, "want 1 to 2147483647", "flush.yaml:2:"},
		{"1000 h of latency", []string{"-scenario", write("lat.yaml", "name: x\n"+tinyCluster+"network: { latency: { base: 1000h } }\n")}, exitUsage, "longer than 1m0s: a message that slow never arrives", "lat.yaml:3:"},
		{"a slow link of an hour", []string{"-scenario", write("slow.yaml", "name: x\n"+tinyCluster+"faults:\n  - { at: 1s, slow-link: { from: [broker-0], to: [rest], delay: 1h } }\n")}, exitUsage, "longer than 1m0s", "slow.yaml:4:"},
		{"a record of 2 GB", []string{"-scenario", write("rec.yaml", clusterConfig("tideline.record.bytes: 2000000000"))}, exitUsage, "want 1 to 1048588", "rec.yaml:2:"},
		// Numbers and names taken silently.
		{"brokers: 3.5", []string{"-scenario", write("b35.yaml", "name: x\ncluster: { brokers: 3.5, topics: [{ name: orders, partitions: 1, replication.factor: 1 }] }\n")}, exitUsage, "brokers: 3.5 is not a whole number", "b35.yaml:2:21"},
		{"seed: 1.5", []string{"-scenario", write("seed.yaml", "name: x\nseed: 1.5\n"+tinyCluster)}, exitUsage, "seed: 1.5 is not a whole number", "seed.yaml:2:7"},
		{"partitions: 2.5", []string{"-scenario", write("p25.yaml", "name: x\ncluster: { topics: [{ name: orders, partitions: 2.5, replication.factor: 1 }] }\n")}, exitUsage, "partitions: 2.5 is not a whole number", "p25.yaml:2:"},
		{"a quoted replication factor", []string{"-scenario", write("rfq.yaml", "name: x\ncluster: { topics: [{ name: orders, partitions: 1, replication.factor: \"3\" }] }\n")}, exitUsage, `replication.factor: "3" is not a whole number`, "rfq.yaml:2:"},
		{"min.insync.replicas: 1.5", []string{"-scenario", write("mir.yaml", clusterConfig("min.insync.replicas: 1.5"))}, exitUsage, "min.insync.replicas: 1.5 is not a whole number", "mir.yaml:2:"},
		{"an unquoted 3.10", []string{"-scenario", write("v310.yaml", clusterConfig("inter.broker.protocol.version: 3.10"))}, exitUsage, "YAML reads the unquoted version as the number 3.1: quote it", "v310.yaml:2:"},
		{"an unquoted 2.80", []string{"-scenario", write("v280.yaml", clusterConfig("inter.broker.protocol.version: 2.80"))}, exitUsage, "as the number 2.8: quote it", "v280.yaml:2:"},
		{"3.5-IV9", []string{"-scenario", write("iv9.yaml", clusterConfig(`inter.broker.protocol.version: "3.5-IV9"`))}, exitUsage, "3.5 has internal versions IV0 to IV2", "iv9.yaml:2:"},
		{"0.9.0-IV0", []string{"-scenario", write("iv0.yaml", clusterConfig(`inter.broker.protocol.version: "0.9.0-IV0"`))}, exitUsage, "0.9.0 has no internal versions", "iv0.yaml:2:"},
		{"3.10 quoted", []string{"-scenario", write("v310q.yaml", clusterConfig(`inter.broker.protocol.version: "3.10"`))}, exitUsage, `"3.10" is not a Kafka version`, "v310q.yaml:2:"},
		{"a topic name Kafka refuses", []string{"-scenario", write("topic.yaml", "name: x\ncluster: { topics: [{ name: \"my topic\", partitions: 1, replication.factor: 1 }] }\n")}, exitUsage, "Kafka allows up to 249 ASCII letters", "topic.yaml:2:"},
		// Errors at the line at fault, the same on every run.
		{"duration: 0s", []string{"-scenario", write("dur0.yaml", "name: x\nduration: 0s\n"+tinyCluster)}, exitUsage, "duration: 0s: a scenario must run for some time", "dur0.yaml:2:11"},
		{"a duration shorter than the default settle", []string{"-scenario", write("dur5.yaml", "name: x\nduration: 5s\n"+tinyCluster)}, exitUsage, "settle 10s must be shorter than the duration 5s", "dur5.yaml:2:11"},
		{"three unknown fault keys", []string{"-scenario", write("keys.yaml", "name: x\n"+tinyCluster+"faults:\n  - { at: 1s, crash: broker-0, zzz: 1, aaa: 2, yyy: 3 }\n")}, exitUsage, `unknown field "zzz"`, "keys.yaml:4:32"},
		{"an unknown key with no near neighbour", []string{"-scenario", write("zzzz.yaml", "name: x\n"+tinyCluster+"faults:\n  - { at: 1s, zzzz: broker-0 }\n")}, exitUsage, `unknown field "zzzz" (known here: at, for, crash`, "zzzz.yaml:4:15"},
		{"more racks than brokers", []string{"-scenario", write("racks.yaml", "name: x\ncluster: { brokers: 2, racks: [a, b, c], topics: [{ name: orders, partitions: 1, replication.factor: 2 }] }\n")}, exitUsage, `racks: 3 racks for 2 brokers: rack "c" would hold no broker`, "racks.yaml:2:"},
		{"racks given twice", []string{"-scenario", write("racks2.yaml", "name: x\ncluster: { brokers: [{ rack: a }, { rack: b }], racks: [a, b], topics: [{ name: orders, partitions: 1, replication.factor: 2 }] }\n")}, exitUsage, "racks given twice", "racks2.yaml:2:"},
		{"a misspelt key in a broker's entry", []string{"-scenario", write("rak.yaml", "name: x\ncluster: { brokers: [{ rak: a }, { rack: b }], topics: [{ name: orders, partitions: 1, replication.factor: 2 }] }\n")}, exitUsage, `unknown field "rak"`, "rak.yaml:2:"},
		{"rack(x) of an unknown rack", []string{"-scenario", write("rackx.yaml", "name: x\ncluster: { brokers: 3, racks: [east, west], topics: [{ name: orders, partitions: 1, replication.factor: 3 }] }\nfaults:\n  - { at: 1s, crash: rack(eats) }\n")}, exitUsage, "no broker is in rack \"eats\"; the racks are east, west (did you mean rack(east)?)", "rackx.yaml:4:"},
		{"rack(x) without racks", []string{"-scenario", write("norack.yaml", "name: x\n"+tinyCluster+"faults:\n  - { at: 1s, partition: [[rack(a)], rest] }\n")}, exitUsage, "the cluster has no racks", "norack.yaml:4:"},
		{"an unknown placement", []string{"-scenario", write("place.yaml", clusterConfig("tideline.placement: random"))}, exitUsage, "want striped", "place.yaml:2:"},
		{"stop of a broker that does not exist", []string{"-scenario", write("stop9.yaml", "name: x\n"+tinyCluster+"faults:\n  - { at: 1s, stop: broker-9 }\n")}, exitUsage, "names no broker", "stop9.yaml:4:"},
		{"reassign to a broker that does not exist", []string{"-scenario", write("ra1.yaml", "name: x\n"+tinyCluster+"faults:\n  - { at: 1s, reassign: { partition: orders/0, replicas: [0, 1, 7] } }\n")}, exitUsage, "replica", "ra1.yaml:4:"},
		{"reassign to a broker twice", []string{"-scenario", write("ra2.yaml", "name: x\n"+tinyCluster+"faults:\n  - { at: 1s, reassign: { partition: orders/0, replicas: [0, 1, 1] } }\n")}, exitUsage, "broker 1 is listed twice", "ra2.yaml:4:"},
		{"reassign below min.insync.replicas", []string{"-scenario", write("ra3.yaml", "name: x\ncluster: { brokers: 3, topics: [{ name: orders, partitions: 1, replication.factor: 3, config: { min.insync.replicas: 2 } }] }\nfaults:\n  - { at: 1s, reassign: { partition: orders/0, replicas: [2] } }\n")}, exitUsage, "fewer than its min.insync.replicas 2", "ra3.yaml:4:"},
		{"reassign of a partition that does not exist", []string{"-scenario", write("ra4.yaml", "name: x\n"+tinyCluster+"faults:\n  - { at: 1s, reassign: { partition: orders/5, replicas: [0, 1, 2] } }\n")}, exitUsage, "topic orders has no partition 5", "ra4.yaml:4:"},
		{"reassign off a broker that does not exist", []string{"-scenario", write("ra5.yaml", "name: x\ncluster: { brokers: 4, topics: [{ name: orders, partitions: 1, replication.factor: 3 }] }\nfaults:\n  - { at: 1s, reassign: { all-partitions-of: broker-4 } }\n")}, exitUsage, "broker-4 names no broker", "ra5.yaml:4:"},
		{"a misspelt producer key", []string{"-scenario", write("typo.yaml", "name: x\n"+tinyCluster+"workload: { producers: [{ topic: orders, rate: 1/s, akcs: all }] }\n")}, exitUsage, `unknown field "akcs" (did you mean "acks"?)`, "typo.yaml:3:"},
		// Terminal safety: what the file says is never echoed raw.
		{"an escape sequence in the name", []string{"-scenario", write("ansi.yaml", "name: \"a\\x1b[31mred\"\n"+tinyCluster)}, exitUsage, `name "a\x1b[31mred" holds control characters`, "ansi.yaml:1:7"},
		{"a NUL in the name", []string{"-scenario", write("nul.yaml", "name: \"a\\0b\"\n"+tinyCluster)}, exitUsage, `holds control characters`, "nul.yaml:1:7"},
		{"invalid UTF-8 in the name", []string{"-scenario", write("utf.yaml", "name: a\xff\xfeb\n"+tinyCluster)}, exitUsage, `byte 0xff is not UTF-8`, "utf.yaml:1:8"},
		{"an escape sequence in the description", []string{"-scenario", write("desc2.yaml", "name: x\ndescription: \"\\x1b[2J\"\n"+tinyCluster)}, exitUsage, `the description holds control characters`, "desc2.yaml:2:"},
		// Files that are not files: refused at once, never waited on.
		{"a FIFO as the scenario", []string{"-scenario", fifo}, exitUsage, "is a named pipe (FIFO), not a regular file", ""},
		{"a FIFO to replay", []string{"-replay", fifo}, exitUsage, "is a named pipe (FIFO)", ""},
		{"a FIFO to merge", []string{"merge", fifo}, exitUsage, "is a named pipe (FIFO)", ""},
		{"a FIFO to shrink", []string{"shrink", fifo}, exitUsage, "is a named pipe (FIFO)", ""},
		{"a FIFO to explore", []string{"explore", "-scenario", fifo, "-seeds", "1"}, exitUsage, "is a named pipe (FIFO)", ""},
		{"a FIFO to sweep", []string{"sweep", "-scenario", fifo, "-vary", "acks=1,all", "-seeds", "1"}, exitUsage, "is a named pipe (FIFO)", ""},
		{"/dev/zero to merge", []string{"merge", "/dev/zero"}, exitUsage, "is a device, not a regular file", ""},
		{"/dev/zero as the scenario", []string{"-scenario", "/dev/zero"}, exitUsage, "is a device", ""},
		{"a directory as the scenario", []string{"-scenario", dir}, exitUsage, "is a directory", ""},
		{"a directory to replay", []string{"-replay", dir}, exitUsage, "is a directory", ""},
		// Faults and flags that would silently do nothing.
		{"a follower of an RF=1 partition", []string{"-scenario", write("f1.yaml", "name: x\ncluster: { topics: [{ name: orders, partitions: 1, replication.factor: 1 }] }\nfaults:\n  - { at: 1s, crash: follower(orders/0) }\n")}, exitUsage, "orders/0 has replication factor 1: it has no follower", "f1.yaml:4:22"},
		{"for: 0s", []string{"-scenario", write("for0.yaml", "name: x\n"+tinyCluster+"faults:\n  - { at: 1s, crash: broker-0, for: 0s }\n")}, exitUsage, "a fault that lasts no time does nothing", "for0.yaml:4:"},
		{"restart with for:", []string{"-scenario", write("rfor.yaml", "name: x\n"+tinyCluster+"faults:\n  - { at: 1s, crash: broker-0 }\n  - { at: 2s, restart: broker-0, for: 3s }\n")}, exitUsage, "restart ends or does something at once: it takes no for:", "rfor.yaml:5:"},
		{"heal with for:", []string{"-scenario", write("hfor.yaml", "name: x\n"+tinyCluster+"faults:\n  - { at: 2s, heal: all, for: 3s }\n")}, exitUsage, "heal ends or does something at once", "hfor.yaml:4:"},
		{"a producer that starts after its stop", []string{"-scenario", write("ss.yaml", "name: x\n"+tinyCluster+"workload: { producers: [{ topic: orders, rate: 1/s, start: 20s, stop: 10s }] }\n")}, exitUsage, "producer starts at 20s and stops at 10s", "ss.yaml:3:"},
		{"a producer that starts after the load ends", []string{"-scenario", write("ss2.yaml", "name: x\n"+tinyCluster+"workload: { producers: [{ topic: orders, rate: 1/s, start: 55s }] }\n")}, exitUsage, "it would send nothing", "ss2.yaml:3:"},
		{"-seed -1", []string{"-scenario", "leader-crash", "-seed", "-1"}, exitUsage, `-seed "-1": want a whole number`, ""},
		{"-seeds -5", []string{"check", "-seeds", "-5"}, exitUsage, "-seeds -5: want 1 to 1000000", ""},
		{"-shard -1/2", []string{"check", "-shard", "-1/2"}, exitUsage, `-shard "-1/2": want k/n`, ""},
		{"-max-memory NaNGiB", []string{"-scenario", "leader-crash", "-max-memory", "NaNGiB"}, exitUsage, "want a size from 1MiB", ""},
		{"-max-memory InfGiB", []string{"-scenario", "leader-crash", "-max-memory", "InfGiB"}, exitUsage, "want a size from 1MiB", ""},
		{"-max-memory 0.5B", []string{"-scenario", "leader-crash", "-max-memory", "0.5B"}, exitUsage, "want a size from 1MiB", ""},
		{"-max-events 0", []string{"-scenario", "leader-crash", "-max-events", "0"}, exitUsage, "-max-events 0: want a positive number", ""},
		{"explore -for=-1m", []string{"explore", "-for=-1m"}, exitUsage, "-for -1m0s: want a positive wall-clock time", ""},
		{"explore -workers 0", []string{"explore", "-workers", "0"}, exitUsage, "-workers 0: want 1 to 1024", ""},
		{"sweep -seeds 0", []string{"sweep", "-scenario", "leader-crash", "-vary", "acks=1,all", "-seeds", "0"}, exitUsage, "-seeds 0: want 1 to", ""},
		{"-duration 0s", []string{"-scenario", "leader-crash", "-duration", "0s"}, exitUsage, "-duration 0s: want a positive simulated time", ""},
		{"-list -scenario X", []string{"-list", "-scenario", "leader-crash"}, exitUsage, "-list and -scenario do not go together", ""},
		{"-replay T -scenario X", []string{"-replay", "x.trace", "-scenario", "leader-crash"}, exitUsage, "-replay and -scenario do not go together", ""},
		{"-replay T -seed 3", []string{"-replay", "x.trace", "-seed", "3"}, exitUsage, "-replay takes no other flag (-seed)", ""},
		{"-compare X X", []string{"-compare", "leader-crash", "leader-crash.yaml"}, exitUsage, "are the same scenario", ""},
		{"-compare over the cost cap", []string{"-compare", "leader-crash", "soak-hour", "-max-events", "1000000"}, exitUsage, "past the cap", ""},
		{"-memprofile to an unwritable path", []string{"-scenario", "leader-crash", "-memprofile", filepath.Join(dir, "no", "such", "mem.prof")}, exitUsage, "no such file or directory", ""},
		{"explore -seeds 10^12", []string{"explore", "-seeds", "1000000000000"}, exitUsage, "want 1 to 1000000", ""},
		{"explore -set nosuch=1", []string{"explore", "-set", "nosuch=1", "-seeds", "3"}, exitUsage, `-set nosuch=1: unknown broker property "nosuch"`, ""},
		{"explore -set out of range", []string{"explore", "-set", "replica.lag.time.max.ms=0", "-seeds", "3"}, exitUsage, "want 1 to 2147483647", ""},
		{"an escape sequence in a scenario path", []string{"-scenario", "x\x1b[2Jy.yaml"}, exitUsage, `"x\x1b[2Jy.yaml": no such file`, ""},
		{"an escape sequence in a trace path", []string{"-replay", "x\x1b[2Jy.trace"}, exitUsage, `"x\x1b[2Jy.trace": no such file`, ""},
		{"an escape sequence in a flag", []string{"-scenario", "leader-crash", "-\x1b[2J"}, exitUsage, `unknown flag -"\x1b[2J"`, ""},
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
			assert.NotContains(t, stdout+stderr, "\x1b", "nothing from the input reaches the terminal raw")
			assert.Less(t, alloc, uint64(256<<20), "memory stays bounded")
			assert.Less(t, took, 5*time.Second)
			if tt.code == exitUsage {
				assert.Less(t, took, time.Second, "a bad input is answered within a second")
			}
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
