package protocol

import (
	"fmt"
	"strconv"
	"strings"
)

// ProtocolVersion is Kafka's inter.broker.protocol.version: which version
// of the replication protocol the brokers speak. Kafka hardened that
// protocol one KIP at a time, each after a real loss or divergence;
// protocolSteps says which rule each version brought, and Rules what a
// version therefore lacks — so a scenario can switch a fix off and watch
// the bug it fixed happen.
type ProtocolVersion struct {
	Major, Minor, Patch int
	IV                  int // the -IVn suffix; -1 when absent
	text                string
}

// LatestProtocol is the newest behaviour, the default.
var LatestProtocol = MustProtocol("3.9")

func (v ProtocolVersion) String() string { return v.text }

func (v ProtocolVersion) key() [4]int { return [4]int{v.Major, v.Minor, v.Patch, v.IV} }

// Before reports whether v is older than o.
func (v ProtocolVersion) Before(o ProtocolVersion) bool {
	a, b := v.key(), o.key()
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// releases are the versions Kafka's inter.broker.protocol.version and
// metadata.version know (MetadataVersion, formerly ApiVersion), each with
// its last internal version: 3.5 has 3.5-IV0 to 3.5-IV2; -1 means the
// release had none (0.8.x, 0.9.0).
var releases = map[[3]int]int{
	{0, 8, 0}: -1, {0, 8, 1}: -1, {0, 8, 2}: -1, {0, 9, 0}: -1,
	{0, 10, 0}: 1, {0, 10, 1}: 2, {0, 10, 2}: 0, {0, 11, 0}: 2,
	{1, 0, 0}: 0, {1, 1, 0}: 0,
	{2, 0, 0}: 1, {2, 1, 0}: 2, {2, 2, 0}: 1, {2, 3, 0}: 1, {2, 4, 0}: 1, {2, 5, 0}: 0, {2, 6, 0}: 0, {2, 7, 0}: 2, {2, 8, 0}: 1,
	{3, 0, 0}: 1, {3, 1, 0}: 0, {3, 2, 0}: 0, {3, 3, 0}: 3, {3, 4, 0}: 0, {3, 5, 0}: 2, {3, 6, 0}: 2, {3, 7, 0}: 4, {3, 8, 0}: 0, {3, 9, 0}: 0,
	{4, 0, 0}: 3, {4, 1, 0}: 1,
}

// ParseProtocolVersion reads a version as Kafka writes it: "0.10.2",
// "0.11.0-IV2", "2.8", "3.5-IV0", "3.7".
func ParseProtocolVersion(s string) (ProtocolVersion, error) {
	v := ProtocolVersion{IV: -1, text: s}
	body, iv, hasIV := strings.Cut(strings.TrimSpace(s), "-")
	if hasIV {
		n, err := strconv.Atoi(strings.TrimPrefix(iv, "IV"))
		if !strings.HasPrefix(iv, "IV") || err != nil || n < 0 {
			return v, fmt.Errorf("%q: want a version such as 3.5 or 3.5-IV0", s)
		}
		v.IV = n
	}
	parts := strings.Split(body, ".")
	nums := make([]int, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return v, fmt.Errorf("%q: want a version such as 3.5 or 0.10.2", s)
		}
		nums[i] = n
	}
	switch {
	case len(nums) == 3 && nums[0] == 0, len(nums) == 2 && nums[0] > 0, len(nums) == 3 && nums[2] == 0:
	default:
		return v, fmt.Errorf("%q: want a version such as 3.5 or 0.10.2", s)
	}
	v.Major, v.Minor = nums[0], nums[1] // 0.10.2 is (0, 10, 2)
	if len(nums) == 3 {
		v.Patch = nums[2]
	}
	lastIV, ok := releases[[3]int{v.Major, v.Minor, v.Patch}]
	switch {
	case !ok:
		return v, fmt.Errorf("%q is not a Kafka version (0.8.0 to 4.1)", s)
	case v.IV > lastIV && lastIV < 0:
		return v, fmt.Errorf("%q: %s has no internal versions; write %s", s, body, body)
	case v.IV > lastIV:
		return v, fmt.Errorf("%q: %s has internal versions IV0 to IV%d", s, body, lastIV)
	}
	return v, nil
}

// MustProtocol parses a version known to be good.
func MustProtocol(s string) ProtocolVersion {
	v, err := ParseProtocolVersion(s)
	if err != nil {
		panic(err)
	}
	return v
}

// Rules are the replication rules a protocol version lacks: each true
// field is a fix not yet shipped at that version.
type Rules struct {
	HWTruncation      bool // before KIP-101: a new follower truncates to its own high watermark
	SingleRoundEpoch  bool // before KIP-279: one round of epoch truncation, to min(leader's end offset, own end)
	NoFetchEpoch      bool // before KIP-320: fetches carry no current leader epoch, so no fencing
	NoTruncateOnFetch bool // before 2.7 (KAFKA-10554): epochs are compared only on becoming a follower, not on every fetch
	NoBrokerEpochISR  bool // before KIP-903: ISR changes carry no broker epoch
	HWBelowMinISR     bool // before KAFKA-15583: the HW advances with the ISR below min.insync.replicas
	NoFetchSessions   bool // before KIP-227: every replica fetch names, and every answer carries, every partition
}

// protocolSteps is the one place that says which rule each version
// brought: versions before since lack it.
var protocolSteps = []struct {
	since ProtocolVersion
	fix   string
	lacks func(*Rules)
}{
	{MustProtocol("0.11.0"), "KIP-101: truncate by leader epoch, not to the high watermark", func(r *Rules) { r.HWTruncation = true }},
	{MustProtocol("1.1"), "KIP-227: incremental fetch sessions: a replica fetch names only the partitions that changed", func(r *Rules) { r.NoFetchSessions = true }},
	{MustProtocol("2.0"), "KIP-279: epoch truncation iterates until the logs agree", func(r *Rules) { r.SingleRoundEpoch = true }},
	{MustProtocol("2.1"), "KIP-320: fetches carry the current leader epoch and are fenced on it", func(r *Rules) { r.NoFetchEpoch = true }},
	{MustProtocol("2.7"), "KAFKA-10554: every fetch names the last fetched epoch, and the leader answers a divergence", func(r *Rules) { r.NoTruncateOnFetch = true }},
	{MustProtocol("3.5"), "KIP-903: ISR changes carry broker epochs; a rebooted broker's stale fetch cannot rejoin it", func(r *Rules) { r.NoBrokerEpochISR = true }},
	{MustProtocol("3.7"), "KAFKA-15583: the HW does not move while the ISR is below min.insync.replicas", func(r *Rules) { r.HWBelowMinISR = true }},
}

// Rules returns the fixes version v lacks.
func (v ProtocolVersion) Rules() Rules {
	var r Rules
	for _, step := range protocolSteps {
		if v.Before(step.since) {
			step.lacks(&r)
		}
	}
	return r
}
