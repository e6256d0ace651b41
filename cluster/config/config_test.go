package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every setting is held to Kafka's range (ConfigDef: an INT setting stops
// at Integer.MAX_VALUE), and a combination KafkaConfig refuses is refused.
func TestSettingsKeepKafkasRanges(t *testing.T) {
	b := DefaultBrokerConfig()
	require.NoError(t, b.Set("replica.lag.time.max.ms", "2147483647"))
	assert.Equal(t, 2147483647*time.Millisecond, b.ReplicaLagTimeMax)
	for _, bad := range []string{"2147483648", "9223372036854775807", "0", "-1", "1.5", "ten"} {
		assert.Error(t, b.Set("replica.lag.time.max.ms", bad), bad)
	}
	assert.ErrorContains(t, b.Set("inter.broker.protocol.version", "3.5-IV9"), "IV0 to IV2")
	b = DefaultBrokerConfig()
	require.NoError(t, b.Set("broker.heartbeat.interval.ms", "20000"))
	assert.ErrorContains(t, b.Validate(), "more than broker.session.timeout.ms")

	p := DefaultProducerConfig("orders")
	assert.Error(t, p.Set("tideline.record.bytes", "1048589"))
	assert.ErrorContains(t, p.Set("acks", "2"), "want 0, 1 or all")
	assert.ErrorContains(t, p.Set("lnger.ms", "5"), `did you mean "linger.ms"`)
}
