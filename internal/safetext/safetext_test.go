package safetext

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestShowEscapesWhatATerminalWouldObey(t *testing.T) {
	assert.Equal(t, "leader-crash.yaml", Show("leader-crash.yaml"))
	assert.Equal(t, "tïdeline ✓", Show("tïdeline ✓"))
	assert.Equal(t, `"a\x1b[31mred"`, Show("a\x1b[31mred"))
	assert.Equal(t, `"a\x00b"`, Show("a\x00b"))
	assert.Equal(t, `"a\xffb"`, Show("a\xffb"))
	assert.Equal(t, `"two\nlines"`, Show("two\nlines"))
	assert.True(t, Printable("two\nlines"))
	assert.False(t, Printable("\x1b[2J"))
}
