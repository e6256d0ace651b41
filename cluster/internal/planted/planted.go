// Package planted holds the bugs a test may plant in the cluster's real
// code paths, one at a time, to prove that the checkers and the
// exploration find them. Only tests switch them (cluster's export_test.go);
// the zero value is Kafka's behaviour. It imports nothing.
package planted

// Bugs is the set of planted bugs in force.
var Bugs struct {
	AdmitLagging     bool // ISR admission without catching up to the leader's HW
	HWSkipsFollower  bool // the HW computed without the last ISR follower
	IgnoreMinISR     bool // acks=all accepted and committed below min.insync.replicas
	SkipTruncation   bool // a follower told it diverges does not truncate
	PanicOnFetch     bool // a broker's fetch handler hits a nil dereference (a bug that crashes, not one that lies)
	HWPastLEO        bool // a follower takes the leader's HW without bounding it by its own log end
	LoseMinISR       bool // a topic's min.insync.replicas override is dropped for the broker's default
	StaleVote        bool // a controller grants its vote without comparing logs (Raft's election restriction dropped)
	FencedStaysInISR bool // the controller fences a broker but leaves it in every ISR
	PreferredAnyLive bool // a preferred election picks the first replica even outside the ISR
	HWFirstThree     bool // the HW counts only the first three ISR members (harmless below RF 4)
	ShortAssignment  bool // the controller assigns one replica fewer than the topic's replication factor
	UncleanAlways    bool // the controller elects uncleanly whatever unclean.leader.election.enable says
	AcksOne          bool // an acks=all producer sends its requests with acks=1
}
