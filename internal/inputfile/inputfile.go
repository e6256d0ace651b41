// Package inputfile opens the files a user names on the command line:
// regular files only, read through a size limit. A FIFO would block the
// open until a writer comes (forever, for a hostile input), a device such
// as /dev/zero reads without end, and a directory reads nothing useful:
// each is refused with a sentence, before anything waits on it.
package inputfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/tideline-sim/tideline/internal/safetext"
)

// Errors returned, wrapped, for a path that is not a regular file and for
// a file past the limit.
var (
	ErrNotRegular = errors.New("not a regular file")
	ErrTooLarge   = errors.New("larger than allowed")
)

// Open opens path for reading if it is a regular file (a symlink to one is
// fine).
func Open(path string) (*os.File, error) {
	// Stat before opening: opening a FIFO for reading blocks.
	info, err := os.Stat(path)
	if err != nil {
		return nil, shown(err)
	}
	if !info.Mode().IsRegular() {
		return nil, notRegular(path, info.Mode())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, shown(err)
	}
	// The path may have been replaced between the two calls.
	if info, err = f.Stat(); err != nil || !info.Mode().IsRegular() {
		f.Close()
		if err == nil {
			err = notRegular(path, info.Mode())
		}
		return nil, err
	}
	return f, nil
}

// Read reads a regular file of at most limit bytes.
func Read(path string, limit int64) ([]byte, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: %w: at most %d bytes", safetext.Show(path), ErrTooLarge, limit)
	}
	return data, nil
}

// shown makes the path in an error from the os package safe to echo.
func shown(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		pe.Path = safetext.Show(pe.Path)
	}
	return err
}

func notRegular(path string, mode os.FileMode) error {
	what := "a special file"
	switch {
	case mode.IsDir():
		what = "a directory"
	case mode&os.ModeNamedPipe != 0:
		what = "a named pipe (FIFO)"
	case mode&os.ModeDevice != 0:
		what = "a device"
	case mode&os.ModeSocket != 0:
		what = "a socket"
	}
	return fmt.Errorf("%s: is %s, %w: give the path of a file", safetext.Show(path), what, ErrNotRegular)
}
