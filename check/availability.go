package check

import (
	"time"

	"github.com/tideline-sim/tideline/clock"
	"github.com/tideline-sim/tideline/cluster"
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
	Acked     int // acknowledgements that arrived in the bucket
}

// Share is the bucket's share of attempts that succeeded (1 with none).
func (b Bucket) Share() float64 {
	if b.Attempts == 0 {
		return 1
	}
	return float64(b.Succeeded) / float64(b.Attempts)
}

// Window is a stretch in which a partition had writes outstanding and
// acknowledged none.
type Window struct {
	TP       cluster.TopicPartition
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

// Availability is the produce availability of a run.
type Availability struct {
	Bucket     time.Duration
	Share      float64 // of all sends, the share acknowledged
	Buckets    []Bucket
	Windows    []Window
	Recoveries []Recovery
}

// MeasureAvailability buckets the sends of the history, finds the windows
// in which a partition acknowledged nothing while writes waited, and times
// each fault's recovery. The ISR timeline comes from the controller's
// events; final gives each partition's replica count.
func MeasureAvailability(history *cluster.History, events []cluster.Event, final []cluster.FinalLog, faults []Fault, bucket time.Duration, end clock.Time) Availability {
	if bucket <= 0 {
		bucket = time.Second
	}
	n := int(end.Since()/bucket) + 1
	av := Availability{Bucket: bucket, Buckets: make([]Bucket, n)}
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
	var invokedAt cluster.PayloadTable[clock.Time]
	var outcomes cluster.PayloadTable[outcome]
	for _, op := range history.All() {
		if op.F != cluster.OpSend {
			continue
		}
		if op.Type == cluster.Invoke {
			invokedAt.Set(op.Payload, op.Time)
			continue
		}
		outcomes.Set(op.Payload, outcome{op.Time, op.Type == cluster.Ok})
	}
	type tpBuckets struct{ outstanding, acked []int }
	perTP := map[cluster.TopicPartition]*tpBuckets{}
	var tps []cluster.TopicPartition
	ok, sends := 0, 0
	for _, inv := range history.All() {
		if inv.F != cluster.OpSend || inv.Type != cluster.Invoke {
			continue
		}
		sends++
		b := &av.Buckets[idx(inv.Time)]
		b.Attempts++
		t := perTP[inv.TP]
		if t == nil {
			t = &tpBuckets{outstanding: make([]int, n+1), acked: make([]int, n)}
			perTP[inv.TP] = t
			tps = append(tps, inv.TP)
		}
		done, finished := outcomes.Get(inv.Payload)
		last := n - 1
		if finished {
			last = idx(done.at)
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

func recoveries(history *cluster.History, events []cluster.Event, final []cluster.FinalLog, faults []Fault, invokedAt *cluster.PayloadTable[clock.Time]) []Recovery {
	replicas := map[cluster.TopicPartition]int{}
	for _, f := range final {
		replicas[f.TP] = len(f.State.Replicas)
	}
	// isrFull[tp] is the partition's ISR history: when it became full or not.
	type change struct {
		at   clock.Time
		full bool
	}
	isrFull := map[cluster.TopicPartition][]change{}
	for _, e := range events {
		if e.ISR != nil && e.TP.Topic != "" {
			isrFull[e.TP] = append(isrFull[e.TP], change{e.Time, len(e.ISR) == replicas[e.TP]})
		}
	}
	fullFrom := func(tp cluster.TopicPartition, at clock.Time) clock.Time {
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
	acks := map[cluster.TopicPartition][]acked{}
	for _, op := range history.All() {
		if op.F == cluster.OpSend && op.Type == cluster.Ok {
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
