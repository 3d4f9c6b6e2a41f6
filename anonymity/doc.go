// Package anonymity holds Pulse's anonymity rules as pure functions over
// counts and trees: the minimum group size k and the thresholds derived
// from it, token unit planning at launch, and residual suppression of
// released results and of participation counts.
//
// It imports nothing of Pulse and touches no database: callers (survey at
// launch and for participation, reports at release) pass counts in and get
// decisions out. docs/ANONYMITY.md describes the rules it implements.
package anonymity
