package journal

// ProducerMetrics are a producer's own counts across its restarts, as
// Kafka's producer metrics give them (batch-size-avg, record-retry-total,
// requests-in-flight): what the report shows of how it sent, never what a
// checker judges by.
type ProducerMetrics struct {
	Batches      int64 // batches sent, each counted once
	BatchRecords int64 // the records in them
	Requests     int64 // produce requests sent (retransmissions not counted)
	Retries      int64 // batches sent again after an error or a timeout
	MaxInFlight  int   // the most requests outstanding on one connection at once
}

// AvgBatch is the mean records per batch, 0 before the first.
func (m ProducerMetrics) AvgBatch() float64 {
	if m.Batches == 0 {
		return 0
	}
	return float64(m.BatchRecords) / float64(m.Batches)
}
