package main

import (
	"fmt"
	"strings"
	"time"
)

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func lat(l Latency) string {
	return fmt.Sprintf("%s / %s / %s", ms(l.P50), ms(l.P95), ms(l.P99))
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

// Markdown renders the results as a markdown table with the targets.
func (r *Results) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Scale %s: %d people, %d teams (all token units), %d released weekly rounds of history; "+
		"%d CPU cores, database pool %d, %d concurrent clients; %s.\n", r.Scale.Name, r.People, r.Teams, r.Rounds, r.Cores, r.Pool, r.Clients,
		r.Started.Format("2006-01-02 15:04 UTC"))
	if r.Note != "" {
		fmt.Fprintf(&b, "Machine load: %s\n", r.Note)
	}
	b.WriteString("\n| Measure | Result | Target |\n|---|---|---|\n")
	ratio := 0.0
	if r.RawRate > 0 {
		ratio = r.HTTPRate / r.RawRate
	}
	fmt.Fprintf(&b, "| Ballot submissions over HTTP (%d ballots) | %.0f /s | |\n", r.Submitted, r.HTTPRate)
	fmt.Fprintf(&b, "| Same write transaction, raw SQL via pgx (%d in %s) | %.0f /s | |\n", r.RawCount, r.Scale.RawDuration, r.RawRate)
	fmt.Fprintf(&b, "| HTTP / raw SQL | %.0f%% | ≥ 60%%: %s |\n", 100*ratio, verdict(ratio >= 0.6))
	fmt.Fprintf(&b, "| Token issuance (blind signing) over HTTP (%d tokens) | %.0f /s | |\n", r.Issued, r.IssueRate)
	closeTotal := r.CloseTime + r.ReleaseTime
	fmt.Fprintf(&b, "| Close of a %d-ballot round: shuffle into results | %.1f s | |\n", r.Ballots, r.CloseTime.Seconds())
	fmt.Fprintf(&b, "| … then release (aggregates, suppression) | %.1f s | |\n", r.ReleaseTime.Seconds())
	fmt.Fprintf(&b, "| … close + release | %.1f s | < 60 s: %s |\n", closeTotal.Seconds(), verdict(closeTotal < time.Minute))
	fmt.Fprintf(&b, "| Report API p50 / p95 / p99, leader of one department (~20 teams) | %s | p95 < 50 ms: %s |\n", lat(r.LeaderAPI), verdict(r.LeaderAPI.P95 < 50*time.Millisecond))
	fmt.Fprintf(&b, "| Report API p50 / p95 / p99, CEO (whole organisation) | %s | p95 < 250 ms: %s |\n", lat(r.CEOAPI), verdict(r.CEOAPI.P95 < 250*time.Millisecond))
	fmt.Fprintf(&b, "| Report page render p50 / p95 / p99, department leader | %s | |\n", lat(r.LeaderPage))
	fmt.Fprintf(&b, "| Report page render p50 / p95 / p99, CEO | %s | |\n", lat(r.CEOPage))
	fmt.Fprintf(&b, "| Server peak RSS (VmHWM) | %.0f MB | < 300 MB: %s |\n", float64(r.ServerRSS)/(1<<20), verdict(r.ServerRSS < 300<<20))
	fmt.Fprintf(&b, "| Generation: %d rows by COPY | %.1f s | |\n", r.GenRows, r.GenTime.Seconds())
	fmt.Fprintf(&b, "| Launch of the measured round (%d signing keys) | %.1f s | |\n", r.Units, r.LaunchTime.Seconds())
	fmt.Fprintf(&b, "| Whole run | %.1f s | < 15 min: %s |\n", r.Total.Seconds(), verdict(r.Total < 15*time.Minute))
	if r.SubmitErrs > 0 {
		fmt.Fprintf(&b, "\n%d submissions failed.\n", r.SubmitErrs)
	}
	return b.String()
}
