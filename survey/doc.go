// Package survey is Pulse's domain: the organisation and its teams, people,
// accounts, question bank, programs, rounds, invitations and the anonymity
// tables (keys, ballot box, ballots, answers, comments, spent tokens).
//
// It knows nothing of HTTP. Services take a context first and return the
// sentinel errors of errors.go or a *ValidationError.
package survey
