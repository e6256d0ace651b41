package sim

import (
	"fmt"
	"slices"
)

// Disk is a node's simulated storage: named append-only files of records.
// It outlives the node's memory: a process crash keeps everything appended
// (the OS page cache survives), a power loss keeps only what was synced.
//
// Records are stored as the values given; they must be immutable values
// (no pointers into live node state), exactly as bytes on a real disk would be.
type Disk struct {
	files map[string]*File
}

// NewDisk returns an empty disk.
func NewDisk() *Disk { return &Disk{files: map[string]*File{}} }

// Open returns the named file, creating it empty if it does not exist.
func (d *Disk) Open(name string) *File {
	f, ok := d.files[name]
	if !ok {
		f = &File{name: name}
		d.files[name] = f
	}
	return f
}

// Exists reports whether the named file was ever opened.
func (d *Disk) Exists(name string) bool {
	_, ok := d.files[name]
	return ok
}

// Files returns the names of all files, sorted.
func (d *Disk) Files() []string {
	names := make([]string, 0, len(d.files))
	for name := range d.files {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// loseUnsynced is what a power loss does: every file falls back to its
// synced watermark.
func (d *Disk) loseUnsynced() {
	for _, f := range d.files {
		f.records = f.records[:f.synced]
	}
}

// File is an append-only sequence of records with a synced watermark.
type File struct {
	name    string
	records []any
	synced  int // records [0, synced) survive a power loss
}

// Name returns the file's name on its disk.
func (f *File) Name() string { return f.name }

// Append adds records at the end; they survive a crash but not a power loss
// until the next Sync.
func (f *File) Append(records ...any) { f.records = append(f.records, records...) }

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
	f.synced = min(f.synced, n)
}

// Len returns the number of records.
func (f *File) Len() int { return len(f.records) }

// Synced returns the number of records that survive a power loss.
func (f *File) Synced() int { return f.synced }

// Record returns the record at index i.
func (f *File) Record(i int) any { return f.records[i] }

// Records returns a copy of all records, for recovery.
func (f *File) Records() []any { return slices.Clone(f.records) }
