package scenarios

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/tideline-sim/tideline/cluster"
	"github.com/tideline-sim/tideline/cluster/config"
	"github.com/tideline-sim/tideline/internal/safetext"
	"github.com/tideline-sim/tideline/internal/suggest"
	"github.com/tideline-sim/tideline/network"
)

// Defaults for what a scenario leaves out.
const (
	DefaultDuration = 60 * time.Second
	DefaultSettle   = 10 * time.Second
	DefaultSeed     = 1
	DefaultBrokers  = 3
	// DefaultControllers is the controller quorum a scenario gets unless it
	// says otherwise.
	DefaultControllers = 3
)

// Open finds a scenario by path or, failing that, by built-in name (with
// or without ".yaml"), so that `-scenario leader-crash.yaml` works anywhere.
func Open(nameOrPath string) (*Scenario, error) {
	data, err := readBounded(nameOrPath)
	if err == nil {
		return Load(nameOrPath, data)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	name := strings.TrimSuffix(filepath.Base(nameOrPath), ".yaml")
	if sc, berr := Builtin(name); berr == nil {
		return sc, nil
	}
	return nil, fmt.Errorf("%s: no such file, and no built-in scenario %q (built-in: %s)", safetext.Show(nameOrPath), name, strings.Join(BuiltinNames(), ", "))
}

// OpenAll opens every named scenario, stopping at the first that fails.
func OpenAll(names []string) ([]*Scenario, error) {
	var list []*Scenario
	for _, name := range names {
		sc, err := Open(name)
		if err != nil {
			return nil, err
		}
		list = append(list, sc)
	}
	return list, nil
}

// Load reads a scenario from YAML; file names it in errors.
func Load(file string, data []byte) (*Scenario, error) {
	data = trimByteOrderMark(data)
	if err := checkText(file, data); err != nil {
		return nil, err
	}
	astFile, err := parse(data)
	if err != nil {
		return nil, fromYAML(file, err)
	}
	if err := checkTree(file, astFile); err != nil {
		return nil, err
	}
	if err := checkKeys(file, astFile); err != nil {
		return nil, err
	}
	var raw rawScenario
	if err := decode(data, &raw); err != nil {
		return nil, fromYAML(file, err)
	}
	v := &validator{file: file, ast: astFile}
	sc := v.scenario(raw)
	if v.err != nil {
		return nil, v.err
	}
	sc.Source, sc.Text = file, data
	return sc, nil
}

// parse builds the syntax tree; like decode, it must not panic on bad
// input.
func parse(data []byte) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the YAML could not be parsed (%v): check the indentation, quotes and tags", r)
		}
	}()
	return parser.ParseBytes(data, 0)
}

// decode is strict YAML decoding that cannot panic: go-yaml v1.19.2 panics
// on some malformed documents (found by FuzzLoad, e.g. a tag on a flow
// value), and bad input must get an error, never a crash.
func decode(data []byte, raw *rawScenario) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the YAML could not be decoded (%v): check the indentation, quotes and tags", r)
		}
	}()
	return yaml.UnmarshalWithOptions(data, raw, yaml.DisallowUnknownField())
}

// validator turns the raw schema into a Scenario, stopping at the first
// mistake, which it reports at the position of the offending value.
type validator struct {
	file string
	ast  *ast.File
	err  error
}

func (v *validator) fail(p path, format string, args ...any) {
	if v.err != nil {
		return
	}
	line, col := locate(v.ast, p)
	v.err = &Error{File: v.file, Line: line, Col: col, Err: fmt.Errorf(format, args...)}
}

// scalar reports whether a Kafka property's value is one value, as
// Kafka's properties are, and says where it is not. No property takes a
// fraction: a YAML float is a mistake, and for a version (3.10 unquoted is
// YAML's 3.1) one only quotes can mend.
func (v *validator) scalar(p path, name string, value any) bool {
	switch x := value.(type) {
	case map[string]any, []any:
		v.fail(p, "%s: a property takes one value, not a list or a mapping", name)
		return false
	case float64:
		if strings.HasSuffix(name, ".version") {
			v.fail(p, "%s: YAML reads the unquoted version as the number %v: quote it, e.g. %s: \"3.7\"", name, x, name)
		} else {
			v.fail(p, "%s: %v is not a whole number", name, x)
		}
		return false
	}
	return true
}

// quoted is a name from the file as it may be echoed: in Go's quotes, with
// control characters, escape sequences and invalid UTF-8 escaped.
func quoted(s string) string { return strconv.Quote(s) }

// topicNameRE is Kafka's rule for a topic name (Topic.validate): ASCII
// letters, digits, '.', '_' and '-', at most 249 of them, neither "." nor
// "..".
var topicNameRE = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

func (v *validator) duration(p path, s string, def time.Duration) time.Duration {
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		v.fail(p, "%s: bad duration %q: write a number with a unit, e.g. 500ms, 10s or 1m30s", p, s)
		return def
	}
	if d < 0 {
		v.fail(p, "%s: duration %v is negative", p, d)
	}
	if d > MaxDuration {
		v.fail(p, "%s: %v is longer than %v, the longest a scenario may simulate", p, d, MaxDuration)
	}
	return d
}

// delay reads a network delay: at most MaxLatency.
func (v *validator) delay(p path, s string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(s); err == nil && d > MaxLatency {
		v.fail(p, "%s: %v is longer than %v: a message that slow never arrives within a run's timeouts", p, d, MaxLatency)
		return def
	}
	return v.duration(p, s, def)
}

// whole reads a whole number from least to most: YAML's 3.5 or "3" is
// refused, not truncated or converted.
func (v *validator) whole(p path, raw any, what string, least, most int64) (int64, bool) {
	var n int64
	switch x := raw.(type) {
	case int:
		n = int64(x)
	case int64:
		n = x
	case uint64:
		if x > math.MaxInt64 {
			v.fail(p, "%s: %d is past %d", what, x, most)
			return 0, false
		}
		n = int64(x)
	case float64:
		v.fail(p, "%s: %v is not a whole number", what, x)
		return 0, false
	default:
		v.fail(p, "%s: %s is not a whole number", what, quoted(fmt.Sprint(x)))
		return 0, false
	}
	if n < least || n > most {
		v.fail(p, "%s: %d, want %d to %d", what, n, least, most)
		return 0, false
	}
	return n, true
}

func (v *validator) scenario(raw rawScenario) *Scenario {
	sc := &Scenario{Name: raw.Name, Description: strings.TrimSpace(raw.Description), Seed: DefaultSeed}
	switch {
	case raw.Name == "":
		v.fail(path{}, "the scenario has no name: add `name: my-scenario`")
	case !safetext.Printable(raw.Name) || strings.ContainsAny(raw.Name, "\n\t"):
		v.fail(path{"name"}, "name %s holds control characters or invalid UTF-8: a name is printed in reports and terminals", quoted(raw.Name))
	case !safetext.Printable(raw.Description):
		v.fail(path{"description"}, "the description holds control characters or invalid UTF-8: it is printed in reports and terminals")
	}
	sc.Duration = v.duration(path{"duration"}, raw.Duration, DefaultDuration)
	if sc.Duration == 0 && v.err == nil {
		v.fail(path{"duration"}, "duration: 0s: a scenario must run for some time, e.g. 60s")
	}
	sc.Settle = v.duration(path{"settle"}, raw.Settle, DefaultSettle)
	if v.err == nil && sc.Settle >= sc.Duration {
		at := path{"settle"}
		if raw.Settle == "" {
			at = path{"duration"} // the default settle: the duration is what is too short
		}
		v.fail(at, "settle %v must be shorter than the duration %v", sc.Settle, sc.Duration)
	}
	if raw.Seed != nil {
		if n, ok := v.whole(path{"seed"}, raw.Seed, "seed", 0, math.MaxInt64); ok {
			sc.Seed = uint64(n)
		}
	}
	sc.Cluster = v.cluster(raw.Cluster)
	sc.Network = v.link(path{"network"}, raw.Network.Latency, raw.Network.Loss, raw.Network.Duplicate, network.Link{Latency: 2 * time.Millisecond, Jitter: time.Millisecond})
	for i, l := range raw.Network.Links {
		p := path{"network", "links", i}
		o := LinkOverride{From: l.From, To: l.To}
		v.nodeName(p.key("from"), l.From, sc.Cluster)
		v.nodeName(p.key("to"), l.To, sc.Cluster)
		lat := sc.Network
		if l.Latency != nil {
			lat = v.latency(p.key("latency"), *l.Latency, sc.Network)
		}
		o.Link = lat
		if l.Loss != nil {
			o.Link.Loss = *l.Loss
		}
		if l.Duplicate != nil {
			o.Link.Duplicate = *l.Duplicate
		}
		if err := o.Link.Validate(); err != nil {
			v.fail(p, "network link %s -> %s: %v", l.From, l.To, err)
		}
		sc.Links = append(sc.Links, o)
	}
	v.workload(raw.Workload, sc)
	for i, f := range raw.Faults {
		sc.Faults = append(sc.Faults, v.fault(path{"faults", i}, f, sc))
	}
	for i := 1; i < len(sc.Faults); i++ {
		if sc.Faults[i].At < sc.Faults[i-1].At {
			v.fail(path{"faults", i, "at"}, "faults must be in time order: %v comes after %v", sc.Faults[i].At, sc.Faults[i-1].At)
		}
	}
	sc.Expect = v.expect(raw.Expect)
	if v.err == nil {
		if err := sc.Cluster.Validate(); err != nil {
			v.fail(path{"cluster"}, "%v", err)
		}
	}
	return sc
}

func (v *validator) cluster(raw rawCluster) cluster.Spec {
	spec := cluster.Spec{Brokers: DefaultBrokers, Broker: config.DefaultBrokerConfig()}
	switch {
	case raw.Brokers.List != nil:
		v.brokerRacks(raw.Brokers.List, &spec)
	case raw.Brokers.Count != nil:
		n, _ := v.whole(path{"cluster", "brokers"}, raw.Brokers.Count, "brokers", 1, MaxBrokers)
		spec.Brokers = int(n)
	}
	if raw.Racks != nil {
		v.racks(raw.Racks, raw.Brokers.List != nil, &spec)
	}
	spec.Controllers = DefaultControllers
	if raw.Controllers != nil {
		n, _ := v.whole(path{"cluster", "controllers"}, raw.Controllers, "controllers", 1, cluster.MaxControllers)
		spec.Controllers = int(n)
	}
	if n := spec.Controllers; n < 1 || n > cluster.MaxControllers || n%2 == 0 {
		v.fail(path{"cluster", "controllers"}, "controllers: %d, want 1 (one controller) or an odd quorum of 3 to %d: an even one survives no more failures than the odd one below it", n, cluster.MaxControllers)
	}
	for _, name := range sortedKeys(raw.Config) {
		if !v.scalar(path{"cluster", "config", name}, name, raw.Config[name]) {
			continue
		}
		if err := spec.Broker.Set(name, fmt.Sprint(raw.Config[name])); err != nil {
			v.fail(path{"cluster", "config", name}, "cluster.config: %v", err)
		}
	}
	if err := spec.Broker.Validate(); err != nil {
		v.fail(path{"cluster", "config"}, "cluster.config: %v", err)
	}
	if len(raw.Topics) == 0 {
		v.fail(path{"cluster"}, "cluster has no topics: add `topics: [{ name: orders, partitions: 3, replication.factor: 3 }]`")
	}
	partitions, replicas := 0, 0
	for i, t := range raw.Topics {
		p := path{"cluster", "topics", i}
		tc := config.TopicConfig{Name: t.Name}
		n, _ := v.whole(p.key("partitions"), cmp.Or[any](t.Partitions, 0), "topic "+quoted(t.Name)+": partitions", 1, MaxPartitions)
		rf, _ := v.whole(p.key("replication.factor"), cmp.Or[any](t.ReplicationFactor, 0), "topic "+quoted(t.Name)+": replication.factor", 1, MaxBrokers)
		tc.Partitions, tc.ReplicationFactor = int(n), int(rf)
		partitions += tc.Partitions
		replicas += tc.Partitions * tc.ReplicationFactor
		switch {
		case t.Name == "":
			v.fail(p, "topic %d has no name", i)
		case !topicNameRE.MatchString(t.Name) || t.Name == "." || t.Name == "..":
			v.fail(p.key("name"), "topic name %s: Kafka allows up to 249 ASCII letters, digits, '.', '_' and '-' (not . or ..)", quoted(t.Name))
		case slices.ContainsFunc(spec.Topics, func(o config.TopicConfig) bool { return o.Name == t.Name }):
			v.fail(p.key("name"), "topic %s defined twice", quoted(t.Name))
		case v.err == nil && tc.ReplicationFactor > spec.Brokers:
			v.fail(p.key("replication.factor"), "topic %s: replication.factor %d is more than the %d brokers", quoted(t.Name), tc.ReplicationFactor, spec.Brokers)
		case v.err == nil && partitions > MaxPartitions:
			v.fail(p.key("partitions"), "the topics have %d partitions together up to here: at most %d in all", partitions, MaxPartitions)
		case v.err == nil && replicas > MaxReplicas:
			v.fail(p.key("replication.factor"), "the topics have %d replicas together up to here: at most %d in all", replicas, MaxReplicas)
		}
		for _, name := range sortedKeys(t.Config) {
			if !v.scalar(p.key("config").key(name), name, t.Config[name]) {
				continue
			}
			if err := tc.Set(name, fmt.Sprint(t.Config[name])); err != nil {
				v.fail(p.key("config").key(name), "topic %s config: %v", t.Name, err)
			}
		}
		if tc.MinInsyncReplicas != nil && *tc.MinInsyncReplicas > tc.ReplicationFactor && v.err == nil {
			v.fail(p.key("config").key("min.insync.replicas"), "topic %s: min.insync.replicas %d is more than replication.factor %d: acks=all could never succeed",
				t.Name, *tc.MinInsyncReplicas, tc.ReplicationFactor)
		}
		spec.Topics = append(spec.Topics, tc)
	}
	return spec
}

func (v *validator) latency(p path, raw rawLatency, def network.Link) network.Link {
	l := def
	l.Latency = v.delay(p.key("base"), raw.Base, def.Latency)
	l.Jitter = v.delay(p.key("jitter"), raw.Jitter, def.Jitter)
	if raw.Shape != "" {
		shape, err := network.ParseShape(raw.Shape)
		if err != nil {
			v.fail(p.key("shape"), "%v", err)
		}
		l.Shape = shape
	}
	return l
}

func (v *validator) link(p path, lat rawLatency, loss, dup float64, def network.Link) network.Link {
	l := v.latency(p.key("latency"), lat, def)
	l.Loss, l.Duplicate = loss, dup
	if !(loss >= 0 && loss <= 1) {
		v.fail(p.key("loss"), "network.loss %v is not a probability: write a number from 0 to 1, e.g. 0.001", loss)
	}
	if !(dup >= 0 && dup <= 1) {
		v.fail(p.key("duplicate"), "network.duplicate %v is not a probability: write a number from 0 to 1", dup)
	}
	return l
}

var rateRE = regexp.MustCompile(`^\s*([0-9]+(?:\.[0-9]+)?)\s*/\s*(s|m|h)\s*$`)

func (v *validator) workload(raw rawWorkload, sc *Scenario) {
	if n := len(raw.Producers) + len(raw.Consumers); n > MaxClients {
		v.fail(path{"workload"}, "%d producers and consumers: at most %d in all", n, MaxClients)
		return
	}
	for i, rp := range raw.Producers {
		p := path{"workload", "producers", i}
		pc := config.DefaultProducerConfig(rp.Topic)
		pc.Stop = sc.FaultWindowEnd()
		topic, ok := v.topic(p.key("topic"), rp.Topic, sc.Cluster)
		pc.Rate = v.rate(p.key("rate"), rp.Rate)
		acksSet := rp.Acks != nil
		if acksSet {
			if err := pc.Set("acks", fmt.Sprint(rp.Acks)); err != nil {
				v.fail(p.key("acks"), "producer: %v", err)
			}
		}
		if rp.Idempotence != nil {
			_ = pc.Set("enable.idempotence", strconv.FormatBool(*rp.Idempotence))
		}
		pc.Start = v.duration(p.key("start"), rp.Start, 0)
		if rp.Stop != "" {
			pc.Stop = min(v.duration(p.key("stop"), rp.Stop, pc.Stop), pc.Stop)
		}
		if pc.Start >= pc.Stop && v.err == nil {
			at := p.key("start")
			if rp.Start == "" {
				at = p.key("stop")
			}
			v.fail(at, "producer starts at %v and stops at %v (its stop:, or the load's end before the settle period): it would send nothing", pc.Start, pc.Stop)
		}
		for _, name := range sortedKeys(rp.Config) {
			if !v.scalar(p.key("config").key(name), name, rp.Config[name]) {
				continue
			}
			if err := pc.Set(name, fmt.Sprint(rp.Config[name])); err != nil {
				v.fail(p.key("config").key(name), "producer config: %v", err)
			}
		}
		for j, raw := range rp.Partitions {
			n, whole := v.whole(p.key("partitions").at(j), raw, "partition", 0, MaxPartitions)
			switch {
			case !whole:
			case ok && int(n) >= topic.Partitions:
				v.fail(p.key("partitions").at(j), "topic %s has no partition %d (it has %d)", topic.Name, n, topic.Partitions)
			default:
				pc.PartitionsToProduce = append(pc.PartitionsToProduce, int32(n))
			}
		}
		pc.Resolve()
		if err := pc.Validate(); err != nil && v.err == nil {
			// At the setting Kafka names first, where the file gives it.
			at := p
			for _, key := range []string{"max.in.flight.requests.per.connection", "delivery.timeout.ms", "batch.size", "retries", "acks", "enable.idempotence"} {
				if strings.Contains(err.Error(), key) {
					if _, given := rc(rp.Config, key); given {
						at = p.key("config").key(key)
						break
					}
				}
			}
			v.fail(at, "producer %d: %v", i, err)
		}
		sc.Cluster.Producers = append(sc.Cluster.Producers, pc)
	}
	members := 0
	defer func() {
		// __consumer_offsets counts toward the bounds like any topic.
		if t, ok := sc.Cluster.OffsetsTopic(); ok && v.err == nil {
			if n := sc.Cluster.Partitions() + t.Partitions; n > MaxPartitions {
				v.fail(path{"workload", "consumers"}, "the topics and __consumer_offsets (offsets.topic.num.partitions %d) have %d partitions together: at most %d in all", t.Partitions, n, MaxPartitions)
			} else if n := sc.Cluster.Replicas() + t.Partitions*t.ReplicationFactor; n > MaxReplicas {
				v.fail(path{"workload", "consumers"}, "the topics and __consumer_offsets have %d replicas together: at most %d in all", n, MaxReplicas)
			}
		}
	}()
	for i, rc := range raw.Consumers {
		p := path{"workload", "consumers", i}
		cc := config.DefaultConsumerConfig(rc.Topic)
		v.topic(p.key("topic"), rc.Topic, sc.Cluster)
		if rc.GroupID != "" {
			if err := cc.Set("group.id", rc.GroupID); err != nil {
				v.fail(p.key("group.id"), "consumer: %v", err)
			}
		}
		for _, name := range sortedKeys(rc.Config) {
			if !v.scalar(p.key("config").key(name), name, rc.Config[name]) {
				continue
			}
			if err := cc.Set(name, fmt.Sprint(rc.Config[name])); err != nil {
				v.fail(p.key("config").key(name), "consumer config: %v", err)
			}
		}
		instances := int64(1)
		if rc.Instances != nil {
			instances, _ = v.whole(p.key("instances"), rc.Instances, "instances", 1, MaxMembers)
			if cc.GroupID == "" && instances > 1 && v.err == nil {
				v.fail(p.key("instances"), "instances: %d without a group.id: standalone consumers each read every partition; give group.id to share the partitions as a group", instances)
			}
		}
		if members += int(instances); members > MaxMembers && v.err == nil {
			v.fail(p.key("instances"), "%d consumer group members in all: at most %d", members, MaxMembers)
		}
		if cc.GroupID != "" && v.err == nil {
			v.groupSettings(p, cc, sc.Cluster.Broker.Group)
		}
		for k := range instances {
			if v.err != nil {
				break
			}
			member := cc
			if cc.InstanceID != "" && instances > 1 {
				// One group.instance.id each: the entry's, numbered.
				member.InstanceID = fmt.Sprintf("%s-%d", cc.InstanceID, k)
			}
			sc.Cluster.Consumers = append(sc.Cluster.Consumers, member)
		}
	}
}

// groupSettings checks a group member's settings as Kafka does before it
// joins: its own refusals, and the broker's session timeout range (Kafka's
// coordinator answers INVALID_SESSION_TIMEOUT, and poll() throws; a
// scenario that would only ever hit that is refused here).
func (v *validator) groupSettings(p path, cc config.ConsumerConfig, g config.GroupCoordinatorConfig) {
	if err := cc.Validate(); err != nil {
		v.fail(p.key("config"), "consumer: %v", err)
		return
	}
	if cc.SessionTimeout < g.MinSessionTimeout || cc.SessionTimeout > g.MaxSessionTimeout {
		v.fail(p.key("config").key("session.timeout.ms"), "session.timeout.ms %d is outside the broker's group.min.session.timeout.ms %d to group.max.session.timeout.ms %d: the coordinator refuses the join with INVALID_SESSION_TIMEOUT",
			cc.SessionTimeout.Milliseconds(), g.MinSessionTimeout.Milliseconds(), g.MaxSessionTimeout.Milliseconds())
	}
}

// rc looks a property up in a config block.
func rc(config map[string]any, key string) (any, bool) {
	v, ok := config[key]
	return v, ok
}

func (v *validator) topic(p path, name string, spec cluster.Spec) (config.TopicConfig, bool) {
	for _, t := range spec.Topics {
		if t.Name == name {
			return t, true
		}
	}
	var names []string
	for _, t := range spec.Topics {
		names = append(names, t.Name)
	}
	v.fail(p, "unknown topic %q (topics: %s)", name, strings.Join(names, ", "))
	return config.TopicConfig{}, false
}

func (v *validator) rate(p path, raw any) float64 {
	s, isString := raw.(string)
	if raw == nil {
		v.fail(p, "producer has no rate: write e.g. `rate: 500/s`")
		return 1
	}
	if !isString {
		v.fail(p, "rate %v has no unit: write %v/s (per second), /m or /h", raw, raw)
		return 1
	}
	m := rateRE.FindStringSubmatch(s)
	if m == nil {
		v.fail(p, "bad rate %q: write a number per unit, e.g. 500/s, 30/m or 10/h", s)
		return 1
	}
	n, _ := strconv.ParseFloat(m[1], 64)
	per := map[string]float64{"s": 1, "m": 60, "h": 3600}[m[2]]
	if n <= 0 || n/per > 100_000 {
		v.fail(p, "rate %q: want more than zero and at most 100000/s", s)
		return 1
	}
	return n / per
}

var tpRE = regexp.MustCompile(`^([A-Za-z0-9._-]+)/([0-9]+)$`)

var roleRE = regexp.MustCompile(`^(leader|follower)\((.*)\)$`)

var brokerRE = regexp.MustCompile(`^broker-([0-9]+)$`)

var rackRE = regexp.MustCompile(`^rack\((.*)\)$`)

var controllerRE = regexp.MustCompile(`^controller-([0-9]+)$`)

var consumerRE = regexp.MustCompile(`^consumer-([0-9]+)$`)

var groupRE = regexp.MustCompile(`^group\((.*)\)$`)

var coordinatorRE = regexp.MustCompile(`^coordinator\((.*)\)$`)

var triggerRE = regexp.MustCompile(`^([a-z-]+)(?:\((.*)\))?$`)

var comparisonRE = regexp.MustCompile(`^\s*(>=|<=|==|!=|>|<)?\s*(\S+)\s*$`)

func (v *validator) expect(raw rawExpect) []Expectation {
	var out []Expectation
	known := slices.Clone(Checkers)
	for _, m := range Measures {
		known = append(known, m.Name)
	}
	for _, name := range sortedKeys(raw) {
		p := path{"expect", name}
		val := fmt.Sprint(raw[name])
		e := Expectation{Name: name, Text: val}
		measure := slices.IndexFunc(Measures, func(m struct{ Name, BareOp string }) bool { return m.Name == name })
		switch {
		case slices.Contains(Checkers, name):
			switch val {
			case "pass":
				e.Pass = true
			case "fail":
			case "any":
				e.Any = true
			default:
				v.fail(p, "expect %s: %q: write pass, fail (the scenario must detect a violation) or any (not asserted)", name, val)
			}
		case measure >= 0:
			v.comparison(p, &e, Measures[measure].BareOp)
		default:
			msg := fmt.Sprintf("unknown expectation %q", name)
			if best := suggest.Nearest(name, known); best != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", best)
			} else {
				msg += " (known: " + strings.Join(known, ", ") + ")"
			}
			line, col := locateKey(v.ast, p)
			if v.err == nil {
				v.err = &Error{File: v.file, Line: line, Col: col, Err: errors.New(msg)}
			}
		}
		out = append(out, e)
	}
	return out
}

// comparison parses a measure's expectation: an optional comparison (>=,
// >, <=, <, ==, !=; bare means bareOp) and a value — a share from 0 to 1
// for availability, a duration for max-recovery, a whole number for counts.
func (v *validator) comparison(p path, e *Expectation, bareOp string) {
	examples := map[string]string{Availability: `">= 0.95" or "<= 0.5"`, EventuallyAcknowledged: `">= 0.99"`, MaxOutage: `10s or ">= 5s"`,
		MaxRecovery: `15s or ">= 20s"`, Lost: `0 or "> 0"`, OfflinePartitions: `0 or ">= 1"`,
		Unprocessed: `0 or "> 0"`, DuplicatesProcessed: `0 or "> 0"`, MaxLag: `1000 or "< 5000"`, Rebalances: `"<= 2"`, Reordered: `0 or "> 0"`,
		Duplicated: `0 or "> 0"`}
	m := comparisonRE.FindStringSubmatch(e.Text)
	if m == nil {
		v.fail(p, "expect %s: %q: write a comparison and a value, e.g. %s", e.Name, e.Text, examples[e.Name])
		return
	}
	e.Op = cmp.Or(m[1], bareOp)
	switch e.Name {
	case MaxRecovery, MaxOutage:
		d, err := time.ParseDuration(m[2])
		if err != nil || d < 0 {
			v.fail(p, "expect %s: %q is not a duration: write e.g. %s", e.Name, m[2], examples[e.Name])
			return
		}
		e.Value = d.Seconds()
	case Availability, EventuallyAcknowledged:
		f, err := strconv.ParseFloat(m[2], 64)
		if err != nil || f < 0 || f > 1 {
			v.fail(p, "expect %s: %q is not a share from 0 to 1: write e.g. %s", e.Name, m[2], examples[e.Name])
			return
		}
		e.Value = f
	default:
		n, err := strconv.ParseUint(m[2], 10, 31)
		if err != nil {
			v.fail(p, "expect %s: %q is not a count: write e.g. %s", e.Name, m[2], examples[e.Name])
			return
		}
		e.Value = float64(n)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// brokerRacks reads cluster.brokers given as a list: one entry per broker,
// each with its broker.rack.
func (v *validator) brokerRacks(list []rawBroker, spec *cluster.Spec) {
	p := path{"cluster", "brokers"}
	if len(list) < 1 || len(list) > MaxBrokers {
		v.fail(p, "brokers: %d listed, want 1 to %d", len(list), MaxBrokers)
		return
	}
	spec.Brokers = len(list)
	spec.Racks = make([]string, len(list))
	for i, b := range list {
		v.rackName(p.at(i).key("rack"), b.Rack)
		spec.Racks[i] = b.Rack
	}
}

// racks reads cluster.racks: broker-i gets racks[i mod n].
func (v *validator) racks(racks []string, perBroker bool, spec *cluster.Spec) {
	p := path{"cluster", "racks"}
	switch {
	case perBroker:
		v.fail(p, "racks given twice: write cluster.racks or a rack for each broker in cluster.brokers, not both")
		return
	case len(racks) == 0:
		v.fail(p, "racks: an empty list; leave it out for brokers without racks")
		return
	case len(racks) > spec.Brokers:
		v.fail(p, "racks: %d racks for %d brokers: rack %s would hold no broker", len(racks), spec.Brokers, quoted(racks[spec.Brokers]))
		return
	}
	for i, r := range racks {
		v.rackName(p.at(i), r)
		if slices.Contains(racks[:i], r) {
			v.fail(p.at(i), "rack %s listed twice", quoted(r))
		}
	}
	spec.Racks = make([]string, spec.Brokers)
	for i := range spec.Racks {
		spec.Racks[i] = racks[i%len(racks)]
	}
}

// rackName checks a broker.rack: any non-empty name up to maxRackName
// characters without spaces or parentheses (which rack(x) targets use).
func (v *validator) rackName(p path, name string) {
	switch {
	case name == "":
		v.fail(p, "an empty rack name: give each broker a rack such as a, or none")
	case len(name) > maxRackName:
		v.fail(p, "rack name of %d characters: at most %d", len(name), maxRackName)
	case strings.ContainsAny(name, " \t()[]{},"):
		v.fail(p, "rack name %s: no spaces, brackets or commas", quoted(name))
	}
}

// maxRackName bounds a rack's name.
const maxRackName = 64
