package cluster

import "github.com/tideline-sim/tideline/cluster/internal/planted"

// Plant plants the named bug for the rest of a test and returns what
// removes it: "admit-lagging", "hw-skips-follower", "ignore-min-isr",
// "skip-truncation".
func Plant(bug string) (remove func()) {
	flags := map[string]*bool{
		"admit-lagging":         &planted.Bugs.AdmitLagging,
		"hw-skips-follower":     &planted.Bugs.HWSkipsFollower,
		"ignore-min-isr":        &planted.Bugs.IgnoreMinISR,
		"skip-truncation":       &planted.Bugs.SkipTruncation,
		"panic-on-fetch":        &planted.Bugs.PanicOnFetch,
		"hw-past-leo":           &planted.Bugs.HWPastLEO,
		"lose-min-isr":          &planted.Bugs.LoseMinISR,
		"stale-vote":            &planted.Bugs.StaleVote,
		"fenced-in-isr":         &planted.Bugs.FencedStaysInISR,
		"preferred-outside-isr": &planted.Bugs.PreferredAnyLive,
		"hw-first-three":        &planted.Bugs.HWFirstThree,
		"short-assignment":      &planted.Bugs.ShortAssignment,
		"unclean-always":        &planted.Bugs.UncleanAlways,
		"acks-one":              &planted.Bugs.AcksOne,
	}
	flag, ok := flags[bug]
	if !ok {
		panic("no such planted bug: " + bug)
	}
	*flag = true
	return func() { *flag = false }
}
