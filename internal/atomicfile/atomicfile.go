// Package atomicfile writes files whole or not at all: a full disk or a
// killed process leaves the previous file (or none), never a truncated one.
package atomicfile

import (
	"os"
	"path/filepath"
	"sync"
)

// unfinished holds the temporary files being written, so that a process
// stopped by a signal can remove them (RemoveUnfinished) rather than leave
// hundreds of MB of hidden trace behind.
var unfinished struct {
	sync.Mutex
	paths map[string]bool
}

func track(path string, live bool) {
	unfinished.Lock()
	defer unfinished.Unlock()
	if unfinished.paths == nil {
		unfinished.paths = map[string]bool{}
	}
	if live {
		unfinished.paths[path] = true
	} else {
		delete(unfinished.paths, path)
	}
}

// RemoveUnfinished removes every temporary file not yet committed or
// aborted: what a signal handler calls before the process exits.
func RemoveUnfinished() {
	unfinished.Lock()
	defer unfinished.Unlock()
	for path := range unfinished.paths {
		os.Remove(path)
	}
	unfinished.paths = nil
}

// File is a file being written: a temporary file in the target's folder,
// renamed into place by Commit, removed by Abort.
type File struct {
	*os.File
	path string
	done bool
}

// Create starts writing path.
func Create(path string) (*File, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, err
	}
	track(tmp.Name(), true)
	return &File{File: tmp, path: path}, nil
}

// Commit syncs the file and renames it into place; on failure it removes
// the temporary file.
func (f *File) Commit() error {
	f.done = true
	defer track(f.Name(), false)
	err := f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), f.path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// Abort drops what was written, unless it was committed. The previous
// file, if any, stays.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.Close()
	os.Remove(f.Name())
	track(f.Name(), false)
}

// Write writes data to path whole.
func Write(path string, data []byte) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Abort()
		return err
	}
	return f.Commit()
}
