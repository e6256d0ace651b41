package sim

import (
	"math/rand/v2"
	"strconv"
)

// Seed is the one number that decides a run.
type Seed uint64

func (s Seed) String() string { return strconv.FormatUint(uint64(s), 10) }

// Stream returns the random stream named name under this seed. Streams are
// independent by name, so giving a new concern its own stream never shifts
// the draws of another (adding a client leaves the network's coin flips as
// they were).
func (s Seed) Stream(name string) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(s), streamID(name)))
}

// Uint64 derives a sub-seed by name, for components that derive streams of
// their own (the network derives one per link).
func (s Seed) Uint64(name string) uint64 { return s.Stream(name).Uint64() }

// streamID is FNV-1a of the name: stable across Go versions and platforms.
func streamID(name string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(name); i++ {
		h ^= uint64(name[i])
		h *= 1099511628211
	}
	return h
}
