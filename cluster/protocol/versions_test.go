package protocol

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseProtocolVersionAsKafkaWritesIt(t *testing.T) {
	for _, good := range []string{"0.10.2", "0.11.0", "0.11.0-IV2", "1.1", "2.0", "2.8", "3.5-IV0", "3.7", "3.9", "4.0"} {
		v, err := ParseProtocolVersion(good)
		require.NoError(t, err, good)
		assert.Equal(t, good, v.String())
	}
	for _, bad := range []string{"", "3", "three", "2.9", "5.0", "0.7.0", "3.5-XX", "3.5.1", "-1.0"} {
		_, err := ParseProtocolVersion(bad)
		assert.Error(t, err, bad)
	}
	assert.True(t, MustProtocol("0.10.2").Before(MustProtocol("0.11.0")))
	assert.True(t, MustProtocol("2.8").Before(MustProtocol("3.0")))
	assert.False(t, MustProtocol("3.7").Before(MustProtocol("3.7")))
}

// Each version lacks exactly the fixes shipped after it.
func TestProtocolRulesByVersion(t *testing.T) {
	tests := []struct {
		version string
		want    Rules
	}{
		{"0.10.2", Rules{HWTruncation: true, SingleRoundEpoch: true, NoFetchEpoch: true, NoTruncateOnFetch: true, NoBrokerEpochISR: true, HWBelowMinISR: true, NoFetchSessions: true}},
		{"1.0", Rules{SingleRoundEpoch: true, NoFetchEpoch: true, NoTruncateOnFetch: true, NoBrokerEpochISR: true, HWBelowMinISR: true, NoFetchSessions: true}},
		{"1.1", Rules{SingleRoundEpoch: true, NoFetchEpoch: true, NoTruncateOnFetch: true, NoBrokerEpochISR: true, HWBelowMinISR: true}},
		{"2.0", Rules{NoFetchEpoch: true, NoTruncateOnFetch: true, NoBrokerEpochISR: true, HWBelowMinISR: true}},
		{"2.1", Rules{NoTruncateOnFetch: true, NoBrokerEpochISR: true, HWBelowMinISR: true}},
		{"2.7", Rules{NoBrokerEpochISR: true, HWBelowMinISR: true}},
		{"3.4", Rules{NoBrokerEpochISR: true, HWBelowMinISR: true}},
		{"3.5", Rules{HWBelowMinISR: true}},
		{"3.6", Rules{HWBelowMinISR: true}},
		{"3.7", Rules{}},
		{LatestProtocol.String(), Rules{}},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, MustProtocol(tt.version).Rules(), tt.version)
	}
}
