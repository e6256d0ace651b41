// Package clock holds virtual time and the event queue of a simulated run.
//
// Time never comes from the wall clock: a run starts at zero and jumps from
// one event to the next, so a minute of simulated traffic costs only the work
// of its events.
package clock

import (
	"math"
	"time"
)

// Time is a point in a run: nanoseconds since the run started.
type Time int64

// Never is later than any event; it marks "no deadline".
const Never Time = math.MaxInt64

// At converts a duration since the start of the run into a Time.
func At(d time.Duration) Time { return Time(d) }

// Add returns t+d.
func (t Time) Add(d time.Duration) Time { return t + Time(d) }

// Sub returns the duration t-u.
func (t Time) Sub(u Time) time.Duration { return time.Duration(t - u) }

// Since returns the duration since the run started.
func (t Time) Since() time.Duration { return time.Duration(t) }

// String prints the time as seconds since the start with microsecond
// precision ("10.204350s"), a fixed layout that sorts and diffs well.
func (t Time) String() string {
	if t == Never {
		return "never"
	}
	return string(t.AppendText(nil))
}

// AppendText appends the String form of t to b without allocating.
func (t Time) AppendText(b []byte) []byte {
	v := int64(t)
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	us := v / 1000
	b = appendUint(b, uint64(us/1_000_000), 1)
	b = append(b, '.')
	b = appendUint(b, uint64(us%1_000_000), 6)
	return append(b, 's')
}

// appendUint appends v in decimal, zero-padded to at least width digits.
func appendUint(b []byte, v uint64, width int) []byte {
	var tmp [20]byte
	i := len(tmp)
	for v >= 10 || width > 1 {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
		width--
	}
	i--
	tmp[i] = byte('0' + v)
	return append(b, tmp[i:]...)
}
