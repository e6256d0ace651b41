package cluster

// Plant plants the named bug for the rest of a test and returns what
// removes it: "admit-lagging", "hw-skips-follower", "ignore-min-isr",
// "skip-truncation".
func Plant(bug string) (remove func()) {
	flags := map[string]*bool{
		"admit-lagging":     &planted.admitLagging,
		"hw-skips-follower": &planted.hwSkipsFollower,
		"ignore-min-isr":    &planted.ignoreMinISR,
		"skip-truncation":   &planted.skipTruncation,
		"panic-on-fetch":    &planted.panicOnFetch,
		"hw-past-leo":       &planted.hwPastLEO,
		"lose-min-isr":      &planted.loseMinISR,
		"stale-vote":        &planted.staleVote,
		"fenced-in-isr":     &planted.fencedStaysInISR,
	}
	flag, ok := flags[bug]
	if !ok {
		panic("no such planted bug: " + bug)
	}
	*flag = true
	return func() { *flag = false }
}
