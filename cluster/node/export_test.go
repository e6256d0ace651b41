package node

// StopRecycling turns message and timer recycling off for the rest of a
// test and returns what turns it back on.
func StopRecycling() (restart func()) {
	recycling = false
	return func() { recycling = true }
}
