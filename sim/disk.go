package sim

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/tideline-sim/tideline/clock"
)

// Disk is a node's simulated storage: named append-only files of records.
// It outlives the node's memory: a process crash keeps everything appended
// (the OS page cache survives), a power loss keeps only what was synced.
//
// Records are stored as the values given; they must be immutable values
// (no pointers into live node state), exactly as bytes on a real disk would be.
//
// With a Writeback set, the OS also writes dirty pages back on its own, as
// Linux's flusher does: every Interval it writes what has been dirty for
// longer than Expire, so a power loss takes only the recent tail.
type Disk struct {
	files     map[string]*File
	now       func() clock.Time
	writeback Writeback
}

// Writeback is the OS's periodic write-back of dirty pages: Linux's
// vm.dirty_expire_centisecs (Expire, 30 s by default) and
// vm.dirty_writeback_centisecs (Interval, 5 s). A zero Interval turns it
// off, as it does in Linux.
type Writeback struct {
	Expire, Interval time.Duration
}

// NewDisk returns an empty disk without write-back and without a clock.
func NewDisk() *Disk { return &Disk{files: map[string]*File{}, now: func() clock.Time { return 0 }} }

// SetWriteback sets the OS's write-back of dirty pages for this disk.
func (d *Disk) SetWriteback(wb Writeback) { d.writeback = wb }

// Open returns the named file, creating it empty if it does not exist.
func (d *Disk) Open(name string) *File {
	f, ok := d.files[name]
	if !ok {
		f = &File{name: name, disk: d}
		d.files[name] = f
	}
	return f
}

// Exists reports whether the named file was opened and not removed since.
func (d *Disk) Exists(name string) bool {
	_, ok := d.files[name]
	return ok
}

// Remove deletes the named file, durably at once.
func (d *Disk) Remove(name string) { delete(d.files, name) }

// Files returns the names of all files, sorted.
func (d *Disk) Files() []string {
	names := make([]string, 0, len(d.files))
	for name := range d.files {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// loseUnsynced is what a power loss does: every file falls back to what
// was synced or written back by the OS.
func (d *Disk) loseUnsynced() {
	for _, f := range d.files {
		f.writtenBack()
		f.records = f.records[:f.synced]
		f.written = f.written[:f.synced]
	}
}

// File is an append-only sequence of records with a synced watermark.
type File struct {
	name    string
	disk    *Disk
	records []any
	written []clock.Time // when each record was appended: its page's dirty time
	synced  int          // records [0, synced) survive a power loss
}

// writtenBack advances the synced watermark over every record the OS's
// flusher has written back by now: at its last wake-up (a multiple of the
// interval) the record had been dirty for longer than the expiry.
func (f *File) writtenBack() {
	wb := f.disk.writeback
	if wb.Interval <= 0 {
		return
	}
	now := f.disk.now()
	lastWake := clock.Time(int64(now) / int64(wb.Interval) * int64(wb.Interval))
	cutoff := lastWake.Add(-wb.Expire)
	n := sort.Search(len(f.written), func(i int) bool { return f.written[i] > cutoff })
	f.synced = max(f.synced, n)
}

// Name returns the file's name on its disk.
func (f *File) Name() string { return f.name }

// Append adds records at the end; they survive a crash but not a power loss
// until the next Sync.
func (f *File) Append(records ...any) {
	f.records = append(f.records, records...)
	now := f.disk.now()
	for range records {
		f.written = append(f.written, now)
	}
}

// Sync makes every appended record survive a power loss (fsync).
func (f *File) Sync() { f.synced = len(f.records) }

// Truncate drops every record from index n on. The truncation itself is
// durable at once: the synced watermark never points past the end.
func (f *File) Truncate(n int) {
	if n < 0 || n > len(f.records) {
		panic(fmt.Sprintf("sim: truncate %s to %d of %d records", f.name, n, len(f.records)))
	}
	clear(f.records[n:])
	f.records = f.records[:n]
	f.written = f.written[:n]
	f.synced = min(f.synced, n)
}

// Len returns the number of records.
func (f *File) Len() int { return len(f.records) }

// Synced returns the number of records that survive a power loss.
func (f *File) Synced() int {
	f.writtenBack()
	return f.synced
}

// Record returns the record at index i.
func (f *File) Record(i int) any { return f.records[i] }

// Records returns a copy of all records, for recovery.
func (f *File) Records() []any { return slices.Clone(f.records) }
