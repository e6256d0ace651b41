package scenarios

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/tideline-sim/tideline/cluster"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/protocol"
	"github.com/tideline-sim/tideline/internal/suggest"
)

// The faults block: targets, partitions, triggers and the text a fault is
// described by, validated against the cluster the scenario builds.

// target parses a fault target; partition groups also allow "rest".
func (v *validator) target(p path, s string, spec cluster.Spec, allowRest bool) Target {
	s = strings.TrimSpace(s)
	switch s {
	case "controller":
		return Target{Kind: ControllerTarget}
	case "controllers":
		return Target{Kind: AllControllersTarget}
	case "crashed":
		return Target{Kind: CrashedTarget}
	case "random-broker":
		return Target{Kind: RandomBrokerTarget}
	case "all-brokers":
		return Target{Kind: AllBrokersTarget}
	case "consumers":
		if len(spec.Consumers) == 0 {
			v.fail(p, "consumers: the workload has no consumers")
		}
		return Target{Kind: AllConsumersTarget}
	case "rest":
		if allowRest {
			return Target{Kind: RestTarget}
		}
	}
	if m := brokerRE.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[1])
		if n >= spec.Brokers {
			v.fail(p, "target %q names no broker: the cluster has broker-0 to broker-%d", s, spec.Brokers-1)
		}
		return Target{Kind: BrokerTarget, Broker: n}
	}
	if m := controllerRE.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[1])
		if spec.Controllers < 2 || n >= spec.Controllers {
			v.fail(p, "target %q names no controller: the cluster has %s", s, controllersText(spec.Controllers))
		}
		return Target{Kind: ControllerNTarget, Controller: n}
	}
	if m := rackRE.FindStringSubmatch(s); m != nil {
		return Target{Kind: RackTarget, Rack: v.knownRack(p, m[1], spec)}
	}
	if m := consumerRE.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[1])
		if n >= len(spec.Consumers) {
			v.fail(p, "target %q names no consumer: the workload has %s", s, consumersText(len(spec.Consumers)))
		}
		return Target{Kind: ConsumerTarget, Consumer: n}
	}
	if m := groupRE.FindStringSubmatch(s); m != nil {
		return Target{Kind: GroupTarget, Group: v.knownGroup(p, m[1], spec)}
	}
	if m := coordinatorRE.FindStringSubmatch(s); m != nil {
		return Target{Kind: CoordinatorTarget, Group: v.knownGroup(p, m[1], spec)}
	}
	if m := roleRE.FindStringSubmatch(s); m != nil {
		tp := v.partition(p, m[2], spec)
		kind := LeaderTarget
		if m[1] == "follower" {
			kind = FollowerTarget
		}
		return Target{Kind: kind, TP: tp}
	}
	v.fail(p, "unknown target %q: write broker-N, controller, controller-N, controllers, leader(topic/N), follower(topic/N), rack(NAME), crashed, random-broker, all-brokers, consumer-N, consumers, group(NAME) or coordinator(GROUP)", s)
	return Target{}
}

// knownRack checks that a rack(NAME) target names a rack of the cluster.
func (v *validator) knownRack(p path, name string, spec cluster.Spec) string {
	name = strings.TrimSpace(name)
	racks := spec.RackNames()
	switch {
	case len(racks) == 0:
		v.fail(p, "rack(%s): the cluster has no racks: give cluster.racks, e.g. [a, b, c]", name)
	case !slices.Contains(racks, name):
		msg := fmt.Sprintf("rack(%s): no broker is in rack %s; the racks are %s", name, quoted(name), strings.Join(racks, ", "))
		if best := suggest.Nearest(name, racks); best != "" {
			msg += fmt.Sprintf(" (did you mean rack(%s)?)", best)
		}
		v.fail(p, "%s", msg)
	}
	return name
}

func (v *validator) partition(p path, s string, spec cluster.Spec) protocol.TopicPartition {
	m := tpRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		v.fail(p, "bad partition %q: write topic/N, e.g. orders/0", s)
		return protocol.TopicPartition{}
	}
	n, _ := strconv.Atoi(m[2])
	topics := spec.Topics
	if t, ok := spec.OffsetsTopic(); ok {
		topics = append(slices.Clip(topics), t)
	}
	for _, t := range topics {
		if t.Name == m[1] {
			if n >= t.Partitions {
				v.fail(p, "topic %s has no partition %d (it has %d)", t.Name, n, t.Partitions)
			}
			return protocol.TopicPartition{Topic: m[1], Partition: int32(n)}
		}
	}
	v.fail(p, "unknown topic %q in %q", m[1], s)
	return protocol.TopicPartition{}
}

func (v *validator) nodeName(p path, s string, spec cluster.Spec) {
	if s == "controller" {
		return
	}
	if m := controllerRE.FindStringSubmatch(s); m != nil {
		if n, _ := strconv.Atoi(m[1]); n < spec.Controllers && spec.Controllers > 1 {
			return
		}
	}
	if m := brokerRE.FindStringSubmatch(s); m != nil {
		if n, _ := strconv.Atoi(m[1]); n < spec.Brokers {
			return
		}
	}
	if strings.HasPrefix(s, "producer-") || strings.HasPrefix(s, "consumer-") {
		return
	}
	v.fail(p, "unknown node %q: write broker-N, controller, controller-N, producer-N or consumer-N", s)
}

func (v *validator) targets(p path, list []string, spec cluster.Spec, allowRest bool) []Target {
	if len(list) == 0 {
		v.fail(p, "empty list of targets")
	}
	var out []Target
	for i, s := range list {
		out = append(out, v.target(p.at(i), s, spec, allowRest))
	}
	return out
}

// group reads one group of a partition: a list of targets, or a single one.
func (v *validator) group(p path, raw any) []string {
	switch g := raw.(type) {
	case string:
		return []string{g}
	case []any:
		var out []string
		for i, e := range g {
			s, ok := e.(string)
			if !ok {
				v.fail(p.at(i), "partition group member %v: want a target such as broker-0", e)
			}
			out = append(out, s)
		}
		return out
	}
	v.fail(p, "partition group %v: want a list of targets, e.g. [broker-0, broker-1], or rest", raw)
	return nil
}

func (v *validator) fault(p path, raw rawFault, sc *Scenario) Fault {
	f := Fault{Line: func() int { l, _ := locate(v.ast, p); return l }()}
	if raw.At == "" {
		v.fail(p, "fault has no time: add `at: 10s`")
	}
	f.At = v.duration(p.key("at"), raw.At, 0)
	f.For = v.duration(p.key("for"), raw.For, 0)
	if raw.For != "" && f.For == 0 && v.err == nil {
		v.fail(p.key("for"), "for: %s: a fault that lasts no time does nothing; leave for: out for one that lasts until healed", raw.For)
	}
	if v.err == nil && f.At+f.For > sc.FaultWindowEnd() {
		lasting := ""
		if f.For > 0 {
			lasting = fmt.Sprintf(" lasting %v", f.For)
		}
		v.fail(p.key("at"), "fault at %v%s ends past the fault window: with duration %v and settle %v, faults must end by %v",
			f.At, lasting, sc.Duration, sc.Settle, sc.FaultWindowEnd())
	}
	var kinds []FaultKind
	spec := sc.Cluster
	single := func(kind FaultKind, key string, s string) {
		if s != "" {
			kinds = append(kinds, kind)
			f.Kind, f.Target = kind, v.target(p.key(key), s, spec, false)
		}
	}
	single(Crash, "crash", raw.Crash)
	single(PowerLoss, "power-loss", raw.PowerLoss)
	single(Stop, "stop", raw.Stop)
	single(Restart, "restart", raw.Restart)
	single(Pause, "pause", raw.Pause)
	single(Resume, "resume", raw.Resume)
	single(Isolate, "isolate", raw.Isolate)
	if raw.Heal != "" {
		kinds = append(kinds, Heal)
		f.Kind = Heal
		if raw.Heal != "all" {
			v.fail(p.key("heal"), "heal %q: write `heal: all`", raw.Heal)
		}
		f.Target = Target{Kind: AllTarget}
	}
	if raw.Partition != nil {
		kinds = append(kinds, Partition)
		f.Kind = Partition
		if len(raw.Partition) < 2 {
			v.fail(p.key("partition"), "a partition needs at least two groups, e.g. [[broker-0], rest]")
		}
		named := map[string]int{} // node named by a fixed target -> its group
		for i, g := range raw.Partition {
			gp := p.key("partition").at(i)
			group := v.targets(gp, v.group(gp, g), spec, true)
			for _, t := range group {
				if t.Kind != BrokerTarget && t.Kind != ControllerNTarget && t.Kind != RestTarget {
					continue // resolved when the fault fires
				}
				if j, dup := named[t.String()]; dup && j != i {
					v.fail(gp, "%s is in two groups of the partition: a node is on one side", t)
				}
				named[t.String()] = i
			}
			f.Groups = append(f.Groups, group)
		}
	}
	if raw.OneWay != nil {
		kinds = append(kinds, OneWay)
		f.Kind = OneWay
		f.From = v.targets(p.key("one-way").key("from"), raw.OneWay.From, spec, false)
		f.To = v.targets(p.key("one-way").key("to"), raw.OneWay.To, spec, true)
	}
	if raw.SlowLink != nil {
		kinds = append(kinds, SlowLink)
		f.Kind = SlowLink
		f.From = v.targets(p.key("slow-link").key("from"), raw.SlowLink.From, spec, false)
		f.To = v.targets(p.key("slow-link").key("to"), raw.SlowLink.To, spec, true)
		f.Delay = v.delay(p.key("slow-link").key("delay"), raw.SlowLink.Delay, 0)
		if f.Delay <= 0 && v.err == nil {
			v.fail(p.key("slow-link"), "slow-link needs a positive delay, e.g. `delay: 200ms`")
		}
	}
	if raw.Loss != nil {
		kinds = append(kinds, Loss)
		f.Kind, f.Loss = Loss, *raw.Loss
		if !(f.Loss >= 0 && f.Loss <= 1) {
			v.fail(p.key("loss"), "loss %v is not a probability: write a number from 0 to 1", f.Loss)
		}
	}
	if raw.Elect != nil {
		kinds = append(kinds, Elect)
		at := p.key("elect")
		if raw.Elect.Type != "" {
			at = at.key("partition")
		}
		f.Kind, f.TP, f.Unclean = Elect, v.partition(at, raw.Elect.Partition, spec), raw.Unclean
		switch raw.Elect.Type {
		case "":
		case "preferred":
			f.Preferred = true
		case "unclean":
			f.Unclean = true
		default:
			msg := fmt.Sprintf("election type %s: want preferred or unclean, as kafka-leader-election.sh's --election-type", quoted(raw.Elect.Type))
			if best := suggest.Nearest(raw.Elect.Type, []string{"preferred", "unclean"}); best != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", best)
			}
			v.fail(p.key("elect").key("type"), "%s", msg)
		}
		if f.Preferred && raw.Unclean {
			v.fail(p.key("unclean"), "a preferred election is clean: unclean does not apply")
		}
	}
	f.Off = -1
	if raw.Reassign != nil {
		kinds = append(kinds, Reassign)
		f.Kind = Reassign
		v.reassign(p.key("reassign"), *raw.Reassign, &f, spec)
	}
	switch {
	case len(kinds) == 1 && raw.For != "" && slices.Contains([]FaultKind{Restart, Resume, Heal, Elect, Reassign}, f.Kind):
		v.fail(p.key("for"), "%s ends or does something at once: it takes no for:", f.Kind)
	case len(kinds) == 1 && f.Target.Kind == FollowerTarget && v.err == nil:
		if t, ok := spec.Topic(f.Target.TP.Topic); ok && t.ReplicationFactor < 2 {
			v.fail(p.key(string(f.Kind)), "%s: %s has replication factor 1: it has no follower", f.Target, f.Target.TP)
		}
	}
	switch {
	case len(kinds) == 0:
		v.fail(p, "fault does nothing: give one of crash, power-loss, stop, restart, pause, resume, isolate, partition, one-way, heal, slow-link, loss, elect, reassign")
	case len(kinds) > 1:
		v.fail(p, "fault has %d actions (%s and %s): give each its own entry", len(kinds), kinds[0], kinds[1])
	case raw.Unclean && f.Kind != Elect:
		v.fail(p.key("unclean"), "unclean only applies to elect")
	}
	if raw.After != "" {
		f.After = v.trigger(p.key("after"), raw.After, spec)
	}
	if raw.Delay != "" {
		if raw.After == "" {
			v.fail(p.key("delay"), "delay only applies with after: the time from the event to the fault")
		}
		f.AfterDelay = v.duration(p.key("delay"), raw.Delay, 0)
	}
	f.Text = faultText(f)
	return f
}

// trigger parses `after: isr-expand(orders/0)` or `after: broker-fenced`.
func (v *validator) trigger(p path, s string, spec cluster.Spec) *Trigger {
	m := triggerRE.FindStringSubmatch(strings.TrimSpace(s))
	var names []string
	for _, e := range Triggers {
		names = append(names, string(e))
	}
	if m == nil || !slices.Contains(names, m[1]) {
		msg := fmt.Sprintf("after %q: name a protocol event (%s), optionally of one partition: isr-expand(orders/0)", s, strings.Join(names, ", "))
		if m != nil {
			if best := suggest.Nearest(m[1], names); best != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", best)
			}
		}
		v.fail(p, "%s", msg)
		return nil
	}
	t := &Trigger{Event: journal.EventKind(m[1])}
	if m[2] != "" {
		t.TP = v.partition(p, m[2], spec)
	}
	return t
}

func faultText(f Fault) string {
	s := string(f.Kind)
	switch f.Kind {
	case Partition:
		var groups []string
		for _, g := range f.Groups {
			groups = append(groups, "["+joinTargets(g)+"]")
		}
		s += " " + strings.Join(groups, " | ")
	case OneWay, SlowLink:
		s += " " + joinTargets(f.From) + " -> " + joinTargets(f.To)
		if f.Kind == SlowLink {
			s += " +" + f.Delay.String()
		}
	case Loss:
		s += " " + strconv.FormatFloat(f.Loss, 'g', -1, 64)
	case Reassign:
		if f.Off >= 0 {
			s += fmt.Sprintf(" all partitions off broker-%d", f.Off)
		} else {
			s += fmt.Sprintf(" %v to %v", f.TP, f.Replicas)
		}
	case Elect:
		s += " " + f.TP.String()
		switch {
		case f.Unclean:
			s += " (unclean)"
		case f.Preferred:
			s += " (preferred)"
		}
	default:
		s += " " + f.Target.String()
	}
	if f.For > 0 {
		s += " for " + f.For.String()
	}
	if f.After != nil {
		s += " after " + f.After.String()
		if f.AfterDelay > 0 {
			s += " + " + f.AfterDelay.String()
		}
	}
	return s
}

func joinTargets(ts []Target) string {
	var parts []string
	for _, t := range ts {
		parts = append(parts, t.String())
	}
	return strings.Join(parts, ", ")
}

func consumersText(n int) string {
	switch n {
	case 0:
		return "no consumers"
	case 1:
		return "one consumer, consumer-0"
	}
	return fmt.Sprintf("consumer-0 to consumer-%d (each group member counts)", n-1)
}

// knownGroup checks that a group(NAME) target names a consumer group.
func (v *validator) knownGroup(p path, name string, spec cluster.Spec) string {
	name = strings.TrimSpace(name)
	var groups []string
	for _, c := range spec.Consumers {
		if c.GroupID != "" && !slices.Contains(groups, c.GroupID) {
			groups = append(groups, c.GroupID)
		}
	}
	switch {
	case len(groups) == 0:
		v.fail(p, "group(%s): the workload has no consumer group: give a consumer group.id", name)
	case !slices.Contains(groups, name):
		msg := fmt.Sprintf("group(%s): no consumer is in group %s; the groups are %s", name, quoted(name), strings.Join(groups, ", "))
		if best := suggest.Nearest(name, groups); best != "" {
			msg += fmt.Sprintf(" (did you mean group(%s)?)", best)
		}
		v.fail(p, "%s", msg)
	}
	return name
}

func controllersText(n int) string {
	if n < 2 {
		return "one controller, named controller"
	}
	return fmt.Sprintf("controller-0 to controller-%d", n-1)
}

// reassign reads a reassignment: { partition: t/p, replicas: [3, 4, 5] }
// or { all-partitions-of: broker-N }.
func (v *validator) reassign(p path, raw rawReassign, f *Fault, spec cluster.Spec) {
	switch {
	case raw.AllPartitionsOf != "" && (raw.Partition != "" || raw.Replicas != nil):
		v.fail(p, "reassign takes a partition with its replicas, or all-partitions-of a broker, not both")
	case raw.AllPartitionsOf != "":
		m := brokerRE.FindStringSubmatch(strings.TrimSpace(raw.AllPartitionsOf))
		if m == nil {
			v.fail(p.key("all-partitions-of"), "all-partitions-of %s: name a broker, e.g. broker-0", quoted(raw.AllPartitionsOf))
			return
		}
		n, _ := strconv.Atoi(m[1])
		if n >= spec.Brokers {
			v.fail(p.key("all-partitions-of"), "%s names no broker: the cluster has broker-0 to broker-%d", raw.AllPartitionsOf, spec.Brokers-1)
		}
		for _, t := range spec.Topics {
			if t.ReplicationFactor >= spec.Brokers {
				v.fail(p.key("all-partitions-of"), "topic %s has replication factor %d on %d brokers: no broker is left to move broker-%d's replicas to", t.Name, t.ReplicationFactor, spec.Brokers, n)
			}
		}
		f.Off = n
	case raw.Partition == "":
		v.fail(p, "reassign needs a partition and its new replicas, e.g. { partition: orders/0, replicas: [3, 4, 5] }, or { all-partitions-of: broker-0 }")
	default:
		f.TP = v.partition(p.key("partition"), raw.Partition, spec)
		if len(raw.Replicas) == 0 {
			v.fail(p.key("replicas"), "reassign %s: give its new replicas by broker id, e.g. replicas: [3, 4, 5]", raw.Partition)
			return
		}
		for i, r := range raw.Replicas {
			n, ok := v.whole(p.key("replicas").at(i), r, "replica", 0, int64(spec.Brokers-1))
			if !ok {
				return
			}
			if slices.Contains(f.Replicas, int(n)) {
				v.fail(p.key("replicas").at(i), "broker %d is listed twice: a partition has one replica per broker", n)
			}
			f.Replicas = append(f.Replicas, int(n))
		}
		t, _ := spec.Topic(f.TP.Topic)
		minISR := spec.Broker.MinInsyncReplicas
		if t.MinInsyncReplicas != nil {
			minISR = *t.MinInsyncReplicas
		}
		if len(f.Replicas) < minISR && v.err == nil {
			v.fail(p.key("replicas"), "reassign %v to %d replicas: fewer than its min.insync.replicas %d, so acks=all could never succeed", f.TP, len(f.Replicas), minISR)
		}
	}
}
