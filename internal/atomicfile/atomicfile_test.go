package atomicfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteReplacesWholeAndLeavesNoTemporary(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "summary.json")
	require.NoError(t, Write(path, []byte("first")))
	require.NoError(t, Write(path, []byte("second")))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "second", string(got))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file left behind")
}

func TestWriteIntoAMissingFolderFailsCleanly(t *testing.T) {
	err := Write(filepath.Join(t.TempDir(), "no", "such", "summary.json"), []byte("x"))
	assert.Error(t, err)
}

// A process stopped by a signal removes what it had not finished writing.
func TestRemoveUnfinishedRemovesOnlyWhatIsBeingWritten(t *testing.T) {
	dir := t.TempDir()
	done := filepath.Join(dir, "done.txt")
	require.NoError(t, Write(done, []byte("x")))
	half, err := Create(filepath.Join(dir, "run.trace"))
	require.NoError(t, err)
	_, err = half.Write([]byte("half"))
	require.NoError(t, err)

	RemoveUnfinished()
	left, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, left, 1, "only the finished file stays")
	assert.Equal(t, "done.txt", left[0].Name())
}
