package check

import (
	"fmt"
	"slices"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/protocol"
)

// EndToEndDefinition is the promise, in one line.
const EndToEndDefinition = "every acknowledged write is processed by every consumer group at least once, and a group never commits past a record it did not process"

// Groups names each consumer group member's process by its group, as the
// scenario asked for them (consumer-N → group.id).
type Groups map[string]string

// GroupStats is what one consumer group did, as the history shows it.
type GroupStats struct {
	Group   string
	Topic   string
	Members []string // processes, in order
	// Generations with an assignment; Rebalances the join phases that
	// followed the first, each from its start to the assignment it ended
	// in (Stable), as the coordinators' journal tells them.
	Generations    int
	Rebalances     []Rebalance
	Processed      int // records processed, counting repeats
	ProcessedTwice int // distinct records processed more than once
	Unprocessed    int // acknowledged, in the final log, never processed
	Commits        int // partition offsets committed (ok)
	CommitFailures int // commits refused, or of unknown outcome
	MaxLag         int64
	// Lag is the group's consumer lag over time: per second, the largest
	// log end − committed offset of any partition.
	Lag []LagSample
}

// Rebalance is one of a group's rebalances.
type Rebalance struct {
	Start, End clock.Time // End 0: never completed
	Generation int32      // the generation it ended in
}

// LagSample is a group's largest partition lag at a moment.
type LagSample struct {
	Time clock.Time
	Lag  int64
}

// groupPartition is what the checker keeps of one group's partition.
type groupPartition struct {
	tp        protocol.TopicPartition
	processed []uint8 // times each offset was processed (saturating)
	commits   []journal.Op
	resets    []journal.Op // auto.offset.reset
	seeks     []journal.Op // every reset of the position, truncation's too
	logEnd    int64        // acknowledged log end so far, for lag
	committed int64
}

type groupState struct {
	stats GroupStats
	parts map[protocol.TopicPartition]*groupPartition
	order []*groupPartition
}

func (g *groupState) part(tp protocol.TopicPartition) *groupPartition {
	if p := g.parts[tp]; p != nil {
		return p
	}
	p := &groupPartition{tp: tp}
	g.parts[tp] = p
	g.order = append(g.order, p)
	return p
}

// AnalyseGroups measures each group and judges the end-to-end promise:
// unprocessed (an acknowledged write in the final log no member of the
// group ever processed), commit-skip (the group committed an offset past
// such a record: the at-most-once loss), reset-skip (auto.offset.reset
// moved the group past it), commit-regression (a partition's committed
// offset going back within one generation, unless the member had reset
// its position in between) and commit-lost (an
// acknowledged commit __consumer_offsets does not hold at the end).
func AnalyseGroups(history *journal.History, events []journal.Event, final []cluster.FinalLog, groups Groups) ([]GroupStats, Result) {
	res := Result{Checker: EndToEndName, Definition: EndToEndDefinition}
	if len(groups) == 0 {
		return nil, res
	}
	var names []string
	for _, g := range groups {
		if !slices.Contains(names, g) {
			names = append(names, g)
		}
	}
	slices.Sort(names)
	state := map[string]*groupState{}
	for _, n := range names {
		state[n] = &groupState{stats: GroupStats{Group: n}, parts: map[protocol.TopicPartition]*groupPartition{}}
	}
	generations := map[string]map[int32]bool{}
	type ack struct {
		tp      protocol.TopicPartition
		offset  int64
		payload int64
		op      int
	}
	var acks []ack
	bin := func(t clock.Time) clock.Time { return t - t%clock.Time(1e9) }
	sample := func(g *groupState, t clock.Time) {
		var lag int64
		for _, p := range g.order {
			lag = max(lag, p.logEnd-p.committed)
		}
		g.stats.MaxLag = max(g.stats.MaxLag, lag)
		if n := len(g.stats.Lag); n > 0 && g.stats.Lag[n-1].Time == bin(t) {
			g.stats.Lag[n-1].Lag = max(g.stats.Lag[n-1].Lag, lag)
			return
		}
		g.stats.Lag = append(g.stats.Lag, LagSample{Time: bin(t), Lag: lag})
	}
	for i, op := range history.All() {
		if op.F == journal.OpSend {
			if op.Type == journal.Ok {
				acks = append(acks, ack{op.TP, op.Offset, op.Payload, i})
				for _, n := range names {
					g := state[n]
					if g.stats.Topic == op.TP.Topic {
						p := g.part(op.TP)
						p.logEnd = max(p.logEnd, op.Offset+1)
						sample(g, op.Time)
					}
				}
			}
			continue
		}
		name, ok := groups[op.Process]
		if !ok {
			continue
		}
		g := state[name]
		if !slices.Contains(g.stats.Members, op.Process) {
			g.stats.Members = append(g.stats.Members, op.Process)
		}
		switch op.F {
		case journal.OpAssign:
			if op.Type != journal.Ok {
				continue
			}
			g.stats.Topic = op.TP.Topic
			if generations[name] == nil {
				generations[name] = map[int32]bool{}
			}
			generations[name][op.Generation] = true
			g.part(op.TP)
		case journal.OpProcess:
			g.stats.Topic = op.TP.Topic
			p := g.part(op.TP)
			for int64(len(p.processed)) <= op.Offset {
				p.processed = append(p.processed, 0)
			}
			if p.processed[op.Offset] == 1 {
				g.stats.ProcessedTwice++
			}
			if p.processed[op.Offset] < 255 { // saturating: a uint8 at 255 + 1 is 0
				p.processed[op.Offset]++
			}
			g.stats.Processed++
		case journal.OpCommit:
			p := g.part(op.TP)
			switch op.Type {
			case journal.Ok:
				g.stats.Commits++
				p.committed = op.Offset
				sample(g, op.Time)
			case journal.Fail:
				g.stats.CommitFailures++
				continue // refused: it changed nothing
			case journal.Info:
				g.stats.CommitFailures++
			}
			// Sent (invoke), acknowledged, or of unknown outcome: any of
			// them may be what __consumer_offsets holds.
			p.commits = append(p.commits, op)
		case journal.OpReset:
			p := g.part(op.TP)
			if op.Type != journal.Fail {
				p.seeks = append(p.seeks, op)
			}
			if op.Type == journal.Ok {
				p.resets = append(p.resets, op)
				if p.committed == 0 {
					p.committed = op.Offset
				}
			}
		}
	}
	for _, n := range names {
		state[n].stats.Generations = len(generations[n])
	}
	rebalances(events, state)

	fin := finalByTP(final)
	type skipKey struct {
		group string
		tp    protocol.TopicPartition
		op    int // index among the partition's commits or resets
		reset bool
	}
	type skip struct {
		first, last int64
		n           int
		op          journal.Op
	}
	skips := map[skipKey]*skip{}
	var skipOrder []skipKey
	for _, a := range acks {
		f, ok := fin[a.tp]
		if !ok || a.offset >= f.Records.Len() || f.Records.Payload(a.offset) != a.payload {
			continue // lost: acked-durability's finding, not the group's
		}
		for _, n := range names {
			g := state[n]
			if g.stats.Topic != a.tp.Topic {
				continue
			}
			p := g.part(a.tp)
			if a.offset < int64(len(p.processed)) && p.processed[a.offset] > 0 {
				continue
			}
			g.stats.Unprocessed++
			key := skipKey{group: n, tp: a.tp, op: -1}
			var by journal.Op
			if i := slices.IndexFunc(p.commits, func(c journal.Op) bool { return c.Offset > a.offset }); i >= 0 {
				key.op, by = i, p.commits[i]
			} else if i := slices.IndexFunc(p.resets, func(c journal.Op) bool { return c.Offset > a.offset }); i >= 0 {
				key.op, key.reset, by = i, true, p.resets[i]
			}
			s := skips[key]
			if s == nil {
				s = &skip{first: a.offset, op: by}
				skips[key] = s
				skipOrder = append(skipOrder, key)
			}
			s.last, s.n = max(s.last, a.offset), s.n+1
		}
	}
	for _, key := range skipOrder {
		s := skips[key]
		tp := key.tp
		var v Violation
		switch {
		case key.op < 0:
			v = Violation{Kind: "unprocessed", Message: fmt.Sprintf("group %s never processed %d acknowledged writes of %v (offsets %d to %d), and never committed past them", key.group, s.n, tp, s.first, s.last)}
		case key.reset:
			v = Violation{Kind: "reset-skip", Ops: []journal.Op{s.op}, Message: fmt.Sprintf("group %s never processed %d acknowledged writes of %v (offsets %d to %d): %s reset its position to %d (%s)",
				key.group, s.n, tp, s.first, s.last, s.op.Process, s.op.Offset, s.op.Note)}
		default:
			v = Violation{Kind: "commit-skip", Ops: []journal.Op{s.op}, Message: fmt.Sprintf("group %s committed offset %d of %v (%s, generation %d, at %v) past %d acknowledged writes no member processed (offsets %d to %d)",
				key.group, s.op.Offset, tp, s.op.Process, s.op.Generation, s.op.Time, s.n, s.first, s.last)}
			v.Story = commitSkipStory(s.op, s.first, events, history, groups)
		}
		v.Checker, v.TP, v.Offset, v.Payload = EndToEndName, tp, s.first, -1
		res.Violations = append(res.Violations, v)
	}
	committed := finalCommitted(final)
	for _, n := range names {
		for _, p := range state[n].order {
			if v, ok := commitLost(n, p, committed); ok {
				res.Violations = append(res.Violations, v)
			}
			type last struct {
				gen    int32
				op     journal.Op
				exists bool
			}
			var prev last
			for _, c := range p.commits {
				if c.Type != journal.Ok {
					continue
				}
				if prev.exists && prev.gen == c.Generation && c.Offset < prev.op.Offset && !sought(p.seeks, c.Process, prev.op.Time, c.Time) {
					res.Violations = append(res.Violations, Violation{Checker: EndToEndName, Kind: "commit-regression", TP: p.tp, Offset: c.Offset, Payload: -1,
						Ops: []journal.Op{prev.op, c}, Message: fmt.Sprintf("group %s committed %v at offset %d after %d within generation %d (%s after %s)",
							n, p.tp, c.Offset, prev.op.Offset, c.Generation, c.Process, prev.op.Process)})
				}
				prev = last{c.Generation, c, true}
			}
		}
		if st := state[n].stats; st.ProcessedTwice > 0 {
			res.Notes = append(res.Notes, fmt.Sprintf("group %s processed %d records more than once (at-least-once redelivery)", n, st.ProcessedTwice))
		}
	}
	out := make([]GroupStats, len(names))
	for i, n := range names {
		out[i] = state[n].stats
	}
	return out, res
}

// sought reports whether process moved its position between two times: a
// commit after that may rightly go back (KIP-320's seek to a truncation).
func sought(seeks []journal.Op, process string, from, to clock.Time) bool {
	return slices.ContainsFunc(seeks, func(op journal.Op) bool { return op.Process == process && op.Time >= from && op.Time <= to })
}

type groupTP struct {
	group string
	tp    protocol.TopicPartition
}

// finalCommitted is every group's committed offsets as __consumer_offsets
// holds them at the end: its records below each partition's high
// watermark, replayed.
func finalCommitted(final []cluster.FinalLog) committedOffsets {
	out := committedOffsets{offsets: map[groupTP]int64{}}
	for _, f := range final {
		if f.TP.Topic != protocol.OffsetsTopic {
			continue
		}
		out.partitions++
		if f.Leader == protocol.NoLeader || f.HWs[f.Leader] < 0 {
			out.unreadable = append(out.unreadable, f.TP.Partition)
			continue
		}
		for r := range f.Records.GroupRecords(f.HWs[f.Leader]) {
			if r.Commit != nil {
				out.offsets[groupTP{r.Group, r.Commit.TP}] = r.Commit.Offset
			}
		}
	}
	return out
}

type committedOffsets struct {
	offsets    map[groupTP]int64
	partitions int
	unreadable []int32 // offsets partitions with no live leader at the end
}

// commitLost finds a commit the group was told succeeded that the offsets
// topic no longer holds: the final committed offset is neither the last
// acknowledged commit's nor that of any commit attempted after it.
func commitLost(group string, p *groupPartition, committed committedOffsets) (Violation, bool) {
	if committed.partitions == 0 || slices.Contains(committed.unreadable, protocol.CoordinatorPartition(group, committed.partitions)) {
		return Violation{}, false // nothing to read it from
	}
	last := -1
	for i, c := range p.commits {
		if c.Type == journal.Ok {
			last = i
		}
	}
	if last < 0 {
		return Violation{}, false
	}
	have, ok := committed.offsets[groupTP{group, p.tp}]
	for _, c := range p.commits[last:] {
		if ok && c.Offset == have {
			return Violation{}, false
		}
	}
	c := p.commits[last]
	msg := fmt.Sprintf("group %s was told offset %d of %v was committed (%s, generation %d, at %v), but __consumer_offsets ends with ", group, c.Offset, p.tp, c.Process, c.Generation, c.Time)
	if ok {
		msg += fmt.Sprintf("offset %d", have)
	} else {
		msg += "no offset for it"
	}
	return Violation{Checker: EndToEndName, Kind: "commit-lost", TP: p.tp, Offset: c.Offset, Payload: -1, Ops: []journal.Op{c}, Message: msg}, true
}

// rebalances reads each group's join phases from the coordinators'
// journal: from a rebalance's start to the next Stable.
func rebalances(events []journal.Event, state map[string]*groupState) {
	for _, e := range events {
		g := state[e.Group]
		if g == nil {
			continue
		}
		rb := &g.stats.Rebalances
		switch e.Kind {
		case journal.EvGroupRebalance:
			if n := len(*rb); n == 0 || (*rb)[n-1].End != 0 {
				*rb = append(*rb, Rebalance{Start: e.Time})
			}
		case journal.EvGroupStable:
			if n := len(*rb); n > 0 && (*rb)[n-1].End == 0 {
				(*rb)[n-1].End, (*rb)[n-1].Generation = e.Time, e.Epoch
			}
		}
	}
	for _, g := range state {
		if len(g.stats.Rebalances) > 0 {
			g.stats.Rebalances = g.stats.Rebalances[1:] // the first is the group forming
		}
	}
}

// commitSkipStory tells an at-most-once loss: the commit past the first
// unprocessed record, what happened to the member that made it, and who
// took the partition next and where it started.
func commitSkipStory(commit journal.Op, first int64, events []journal.Event, history *journal.History, groups Groups) []string {
	story := []string{fmt.Sprintf("%v %s commits offset %d of %v in generation %d, before processing offset %d", commit.Time, commit.Process, commit.Offset, commit.TP, commit.Generation, first)}
	for _, e := range events {
		if e.Time > commit.Time && e.Node == commit.Process && e.Kind.Down() {
			story = append(story, fmt.Sprintf("%v %s %s: offsets from %d on are never processed by it", e.Time, commit.Process, e.Kind, first))
			break
		}
	}
	var assigned *journal.Op
	for _, op := range history.All() {
		if op.Time <= commit.Time || op.TP != commit.TP || groups[op.Process] != groups[commit.Process] {
			continue
		}
		if assigned == nil && op.F == journal.OpAssign && op.Type == journal.Ok && (op.Process != commit.Process || op.Generation > commit.Generation) {
			assigned = &op
			story = append(story, fmt.Sprintf("%v %s is assigned %v in generation %d and fetches the committed offset %d", op.Time, op.Process, op.TP, op.Generation, commit.Offset))
			continue
		}
		if assigned != nil && op.F == journal.OpProcess && op.Process == assigned.Process {
			story = append(story, fmt.Sprintf("%v %s processes offset %d first: offsets %d to %d are skipped", op.Time, op.Process, op.Offset, first, commit.Offset-1))
			break
		}
	}
	for i := range story {
		story[i] = fmt.Sprintf("%d. %s", i+1, story[i])
	}
	return story
}

// splitOwnership is consumer-safety's group rule: no two members of one
// generation own one partition (the eager rebalance's promise, and the
// cooperative one's: a partition changes owner only across generations).
// A member that processes a partition after a newer generation gave it to
// another is noted (a zombie: Kafka's classic protocol lets it, until its
// next poll).
func splitOwnership(history *journal.History, groups Groups) (violations []Violation, notes []string) {
	if len(groups) == 0 {
		return nil, nil
	}
	type key struct {
		group      string
		generation int32
		tp         protocol.TopicPartition
	}
	owner := map[key]journal.Op{}
	latest := map[string]int32{} // group -> newest generation with an assignment
	zombies := map[string]int{}
	var zombieOrder []string
	for _, op := range history.All() {
		g, ok := groups[op.Process]
		if !ok || op.Type != journal.Ok {
			continue
		}
		switch op.F {
		case journal.OpAssign:
			k := key{g, op.Generation, op.TP}
			if prev, dup := owner[k]; dup && prev.Process != op.Process {
				violations = append(violations, Violation{Checker: ConsumerSafetyName, Kind: "split-ownership", TP: op.TP, Offset: -1, Payload: -1, Ops: []journal.Op{prev, op},
					Message: fmt.Sprintf("group %s generation %d gave %v to both %s and %s", g, op.Generation, op.TP, prev.Process, op.Process)})
				continue
			}
			owner[k] = op
			latest[g] = max(latest[g], op.Generation)
		case journal.OpProcess:
			if newest := latest[g]; op.Generation < newest {
				if o, ok := owner[key{g, newest, op.TP}]; ok && o.Process != op.Process {
					z := fmt.Sprintf("%s processed %v in generation %d after generation %d gave it to %s", op.Process, op.TP, op.Generation, newest, o.Process)
					if zombies[z] == 0 {
						zombieOrder = append(zombieOrder, z)
					}
					zombies[z]++
				}
			}
		}
	}
	for _, z := range zombieOrder {
		notes = append(notes, fmt.Sprintf("%s (%d records)", z, zombies[z]))
	}
	return violations, notes
}
