package cluster

// planted holds bugs a test may plant in the replication rules, one at a
// time, to prove that the checkers and the exploration find them
// (export_test.go switches them; nothing else does). The zero value is
// Kafka's behaviour.
var planted struct {
	admitLagging     bool // ISR admission without catching up to the leader's HW
	hwSkipsFollower  bool // the HW computed without the last ISR follower
	ignoreMinISR     bool // acks=all accepted and committed below min.insync.replicas
	skipTruncation   bool // a follower told it diverges does not truncate
	panicOnFetch     bool // a broker's fetch handler hits a nil dereference (a bug that crashes, not one that lies)
	hwPastLEO        bool // a follower takes the leader's HW without bounding it by its own log end
	loseMinISR       bool // a topic's min.insync.replicas override is dropped for the broker's default
	staleVote        bool // a controller grants its vote without comparing logs (Raft's election restriction dropped)
	fencedStaysInISR bool // the controller fences a broker but leaves it in every ISR
}
