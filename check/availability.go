package check

import (
	"slices"
	"time"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster"
	"github.com/tideline-sim/tideline/cluster/journal"
	"github.com/tideline-sim/tideline/cluster/protocol"
)

// Fault is a fault as it fired, for recovery times.
type Fault struct {
	At   time.Duration
	Text string
}

// Bucket is one time slice of the produce workload.
type Bucket struct {
	Start     time.Duration
	Attempts  int // sends invoked in the bucket
	Succeeded int // of those, how many were eventually acknowledged
	OnTime    int // of those, how many were acknowledged within the deadline
	Acked     int // acknowledgements that arrived in the bucket
}

// OnTimeShare is the bucket's share of attempts acknowledged within the
// deadline (1 with none).
func (b Bucket) OnTimeShare() float64 {
	if b.Attempts == 0 {
		return 1
	}
	return float64(b.OnTime) / float64(b.Attempts)
}

// Window is a stretch in which a partition had writes outstanding and
// acknowledged none.
type Window struct {
	TP       protocol.TopicPartition
	From, To time.Duration
}

// Recovery is how a fault's effect on writes ended: when every partition
// acknowledged a write sent after it again, and when every partition did so
// with its full ISR back. -1 means not within the run.
type Recovery struct {
	Fault          string
	At             time.Duration
	WritesResumed  time.Duration
	FullyRecovered time.Duration
}

// Outage is a stretch of time in which a write sent to a partition would
// not have been acknowledged within the deadline.
type Outage struct {
	From, To time.Duration
	Ongoing  bool // writes were not acknowledged in time again before the load ended
}

// Length is how long the outage lasted.
func (o Outage) Length() time.Duration { return o.To - o.From }

// PartitionAvailability is availability as a writer to one partition felt
// it.
type PartitionAvailability struct {
	TP protocol.TopicPartition
	// Available is the share of the load period (the partition's first
	// send to its last) in which a write sent then was acknowledged within
	// the deadline. Each send stands for the time until the next one.
	Available float64
	Longest   Outage // the longest outage; zero if none
	Outages   int
	// PerBucket is, per bucket, the share of its sends acknowledged within
	// the deadline (1 with none).
	PerBucket []float64
}

// Availability is the produce availability of a run.
type Availability struct {
	Bucket time.Duration
	// Deadline is how soon a write must be acknowledged to count as
	// available (tideline.availability.deadline.ms).
	Deadline time.Duration
	// Available is availability as users feel it: the mean over partitions
	// of the share of time a write sent then was acknowledged within the
	// deadline (PartitionAvailability.Available).
	Available  float64
	Partitions []PartitionAvailability
	Share      float64 // of all sends, the share eventually acknowledged
	Buckets    []Bucket
	Windows    []Window
	Recoveries []Recovery
}

// Longest returns the longest outage of any partition, and its partition.
func (a Availability) Longest() (protocol.TopicPartition, Outage) {
	var tp protocol.TopicPartition
	var worst Outage
	for _, p := range a.Partitions {
		if p.Longest.Length() > worst.Length() || p.Longest.Ongoing && !worst.Ongoing && p.Longest.Length() == worst.Length() {
			tp, worst = p.TP, p.Longest
		}
	}
	return tp, worst
}

// MeasureAvailability buckets the sends of the history, measures each
// partition's availability against the deadline, finds the windows in which
// a partition acknowledged nothing while writes waited, and times each
// fault's recovery. The ISR timeline comes from the controller's events;
// final gives each partition's replica count.
func MeasureAvailability(history *journal.History, events []journal.Event, final []cluster.FinalLog, faults []Fault, bucket, deadline time.Duration, end clock.Time) Availability {
	if bucket <= 0 {
		bucket = time.Second
	}
	n := int(end.Since()/bucket) + 1
	av := Availability{Bucket: bucket, Deadline: deadline, Buckets: make([]Bucket, n)}
	for i := range av.Buckets {
		av.Buckets[i].Start = time.Duration(i) * bucket
	}
	idx := func(t clock.Time) int { return min(n-1, int(t.Since()/bucket)) }

	// Two passes over the history: how each send ended, then each send
	// from its invocation.
	type outcome struct {
		at clock.Time
		ok bool
	}
	var invokedAt journal.PayloadTable[clock.Time]
	var outcomes journal.PayloadTable[outcome]
	for _, op := range history.All() {
		if op.F != journal.OpSend {
			continue
		}
		if op.Type == journal.Invoke {
			invokedAt.Set(op.Payload, op.Time)
			continue
		}
		outcomes.Set(op.Payload, outcome{op.Time, op.Type == journal.Ok})
	}
	type tpBuckets struct {
		outstanding, acked, attempts, onTime []int
		timeline                             onTimeline
	}
	perTP := map[protocol.TopicPartition]*tpBuckets{}
	var tps []protocol.TopicPartition
	ok, sends := 0, 0
	for _, inv := range history.All() {
		if inv.F != journal.OpSend || inv.Type != journal.Invoke {
			continue
		}
		sends++
		b := &av.Buckets[idx(inv.Time)]
		b.Attempts++
		t := perTP[inv.TP]
		if t == nil {
			t = &tpBuckets{outstanding: make([]int, n+1), acked: make([]int, n), attempts: make([]int, n), onTime: make([]int, n)}
			perTP[inv.TP] = t
			tps = append(tps, inv.TP)
		}
		done, finished := outcomes.Get(inv.Payload)
		last := n - 1
		if finished {
			last = idx(done.at)
		}
		inTime := finished && done.ok && done.at.Sub(inv.Time) <= deadline
		t.timeline.send(inv.Time, inTime)
		t.attempts[idx(inv.Time)]++
		if inTime {
			b.OnTime++
			t.onTime[idx(inv.Time)]++
		}
		t.outstanding[idx(inv.Time)]++
		t.outstanding[last+1]--
		if finished && done.ok {
			ok++
			b.Succeeded++
			av.Buckets[idx(done.at)].Acked++
			t.acked[idx(done.at)]++
		}
	}
	slices.SortFunc(tps, protocol.TopicPartition.Compare)
	for _, tp := range tps {
		t := perTP[tp]
		pa := t.timeline.finish(tp)
		pa.PerBucket = make([]float64, n)
		for i := range n {
			pa.PerBucket[i] = 1
			if t.attempts[i] > 0 {
				pa.PerBucket[i] = float64(t.onTime[i]) / float64(t.attempts[i])
			}
		}
		av.Partitions = append(av.Partitions, pa)
		av.Available += pa.Available / float64(len(tps))
	}
	if len(tps) == 0 {
		av.Available = 1
	}
	if sends > 0 {
		av.Share = float64(ok) / float64(sends)
	}
	for _, tp := range tps {
		t := perTP[tp]
		waiting := 0
		var open *Window
		for i := range n {
			waiting += t.outstanding[i]
			down := waiting > 0 && t.acked[i] == 0
			switch {
			case down && open == nil:
				open = &Window{TP: tp, From: time.Duration(i) * bucket}
			case !down && open != nil:
				open.To = time.Duration(i) * bucket
				av.Windows = append(av.Windows, *open)
				open = nil
			}
		}
		if open != nil {
			open.To = end.Since()
			av.Windows = append(av.Windows, *open)
		}
	}
	av.Recoveries = recoveries(history, events, final, faults, &invokedAt)
	return av
}

func recoveries(history *journal.History, events []journal.Event, final []cluster.FinalLog, faults []Fault, invokedAt *journal.PayloadTable[clock.Time]) []Recovery {
	replicas := map[protocol.TopicPartition]int{}
	for _, f := range final {
		replicas[f.TP] = len(f.State.Replicas)
	}
	// isrFull[tp] is the partition's ISR history: when it became full or not.
	type change struct {
		at   clock.Time
		full bool
	}
	isrFull := map[protocol.TopicPartition][]change{}
	for _, e := range events {
		if e.ISR != nil && e.TP.Topic != "" {
			isrFull[e.TP] = append(isrFull[e.TP], change{e.Time, len(e.ISR) == replicas[e.TP]})
		}
	}
	fullFrom := func(tp protocol.TopicPartition, at clock.Time) clock.Time {
		full, since := true, clock.Time(0) // partitions start with every replica in sync
		for _, c := range isrFull[tp] {
			if c.at > at && full {
				return max(since, at)
			}
			if c.full != full {
				full, since = c.full, c.at
			}
		}
		if full {
			return max(since, at)
		}
		return clock.Never
	}
	// The acknowledged sends of each partition, in the order acknowledged.
	type acked struct{ invoked, at clock.Time }
	acks := map[protocol.TopicPartition][]acked{}
	for _, op := range history.All() {
		if op.F == journal.OpSend && op.Type == journal.Ok {
			at, _ := invokedAt.Get(op.Payload)
			acks[op.TP] = append(acks[op.TP], acked{at, op.Time})
		}
	}
	var out []Recovery
	for _, f := range faults {
		at := clock.At(f.At)
		rec := Recovery{Fault: f.Text, At: f.At}
		for _, fl := range final {
			list, produced := acks[fl.TP]
			if !produced {
				continue
			}
			resumed, recovered := clock.Never, clock.Never
			full := fullFrom(fl.TP, at)
			for _, a := range list {
				if a.invoked < at {
					continue
				}
				resumed = min(resumed, a.at)
				if a.at >= full {
					recovered = min(recovered, a.at)
					break // acknowledgements come in time order
				}
			}
			rec.WritesResumed = worst(rec.WritesResumed, resumed, at)
			rec.FullyRecovered = worst(rec.FullyRecovered, recovered, at)
		}
		out = append(out, rec)
	}
	return out
}

// worst folds one partition's recovery into a fault's: the longest wins,
// and never (-1) beats everything.
func worst(sofar time.Duration, t, at clock.Time) time.Duration {
	if sofar < 0 || t == clock.Never {
		return -1
	}
	return max(sofar, t.Sub(at))
}

// onTimeline follows one partition's sends in the order they were invoked:
// each send stands for the time until the next, available if it was
// acknowledged within the deadline.
type onTimeline struct {
	first, last clock.Time
	lastOnTime  bool
	started     bool
	good        time.Duration
	open        bool // an outage is under way
	from        clock.Time
	outages     int
	longest     Outage
}

func (l *onTimeline) send(at clock.Time, onTime bool) {
	if !l.started {
		l.first, l.started = at, true
	} else if l.lastOnTime {
		l.good += at.Sub(l.last)
	}
	switch {
	case !onTime && !l.open:
		l.open, l.from = true, at
		l.outages++
	case onTime && l.open:
		l.closeOutage(at, false)
	}
	l.last, l.lastOnTime = at, onTime
}

func (l *onTimeline) closeOutage(to clock.Time, ongoing bool) {
	o := Outage{From: l.from.Since(), To: to.Since(), Ongoing: ongoing}
	if o.Length() > l.longest.Length() || ongoing && o.Length() == l.longest.Length() {
		l.longest = o
	}
	l.open = false
}

func (l *onTimeline) finish(tp protocol.TopicPartition) PartitionAvailability {
	if l.open {
		l.closeOutage(l.last, true)
	}
	pa := PartitionAvailability{TP: tp, Available: 1, Longest: l.longest, Outages: l.outages}
	switch period := l.last.Sub(l.first); {
	case period > 0:
		pa.Available = float64(l.good) / float64(period)
	case l.started && !l.lastOnTime:
		pa.Available = 0 // one send, and it failed
	}
	return pa
}
