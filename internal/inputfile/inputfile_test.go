package inputfile

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOnlyRegularFilesAreRead(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a.yaml")
	require.NoError(t, os.WriteFile(file, []byte("name: a\n"), 0o644))
	link := filepath.Join(dir, "link.yaml")
	require.NoError(t, os.Symlink(file, link))
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))

	data, err := Read(link, 100)
	require.NoError(t, err, "a symlink to a file is a file")
	assert.Equal(t, "name: a\n", string(data))

	_, err = Read(file, 3)
	assert.ErrorIs(t, err, ErrTooLarge)

	for path, what := range map[string]string{fifo: "a named pipe (FIFO)", dir: "a directory", "/dev/zero": "a device", "/dev/null": "a device"} {
		start := time.Now()
		_, err := Read(path, 100)
		assert.ErrorIs(t, err, ErrNotRegular, path)
		assert.ErrorContains(t, err, what, path)
		assert.Less(t, time.Since(start), time.Second, "%s is refused at once", path)
	}
}
