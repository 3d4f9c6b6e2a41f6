package survey_test

import (
	"testing"
	"time"

	"github.com/pulse-survey/pulse/survey"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// launches lists the scheduled launches of p in [from, to).
func launches(t *testing.T, p *survey.Program, loc *time.Location, from, to time.Time) []time.Time {
	t.Helper()
	var out []time.Time
	at := from.Add(-time.Nanosecond)
	for {
		n, err := survey.NextLaunch(p, loc, at)
		if err != nil {
			t.Fatal(err)
		}
		if !n.Before(to) {
			return out
		}
		out = append(out, n)
		at = n
	}
}

func TestCadenceAcrossDST(t *testing.T) {
	cases := []struct {
		name    string
		zone    string
		prog    survey.Program
		from    string
		to      string
		want    []string // UTC
		wantLoc string   // every launch shows this wall time
	}{
		{
			name: "weekly, Berlin, spring forward", zone: "Europe/Berlin",
			prog: survey.Program{Cadence: survey.CadenceWeekly, Weekday: int(time.Monday), TimeOfDay: "09:00"},
			from: "2026-03-16T00:00:00Z", to: "2026-04-07T00:00:00Z",
			want:    []string{"2026-03-16T08:00:00Z", "2026-03-23T08:00:00Z", "2026-03-30T07:00:00Z", "2026-04-06T07:00:00Z"},
			wantLoc: "Mon 09:00",
		},
		{
			name: "weekly, Berlin, fall back", zone: "Europe/Berlin",
			prog: survey.Program{Cadence: survey.CadenceWeekly, Weekday: int(time.Monday), TimeOfDay: "09:00"},
			from: "2026-10-19T00:00:00Z", to: "2026-11-03T00:00:00Z",
			want:    []string{"2026-10-19T07:00:00Z", "2026-10-26T08:00:00Z", "2026-11-02T08:00:00Z"},
			wantLoc: "Mon 09:00",
		},
		{
			name: "weekly, New York, both changes", zone: "America/New_York",
			prog: survey.Program{Cadence: survey.CadenceWeekly, Weekday: int(time.Tuesday), TimeOfDay: "10:30"},
			from: "2026-03-03T00:00:00Z", to: "2026-03-11T00:00:00Z",
			want:    []string{"2026-03-03T15:30:00Z", "2026-03-10T14:30:00Z"},
			wantLoc: "Tue 10:30",
		},
		{
			name: "weekly, New York, fall back", zone: "America/New_York",
			prog: survey.Program{Cadence: survey.CadenceWeekly, Weekday: int(time.Tuesday), TimeOfDay: "10:30"},
			from: "2026-10-27T00:00:00Z", to: "2026-11-04T00:00:00Z",
			want:    []string{"2026-10-27T14:30:00Z", "2026-11-03T15:30:00Z"},
			wantLoc: "Tue 10:30",
		},
		{
			name: "monthly first Friday, month ends and year end", zone: "Europe/Berlin",
			prog: survey.Program{Cadence: survey.CadenceMonthly, Weekday: int(time.Friday), TimeOfDay: "16:00"},
			from: "2026-10-01T00:00:00Z", to: "2027-03-01T00:00:00Z",
			// October 2026 starts on a Thursday, January 2027 on a Friday.
			want: []string{"2026-10-02T14:00:00Z", "2026-11-06T15:00:00Z", "2026-12-04T15:00:00Z",
				"2027-01-01T15:00:00Z", "2027-02-05T15:00:00Z"},
			wantLoc: "Fri 16:00",
		},
		{
			name: "every 3 weeks from creation", zone: "Europe/Berlin",
			prog: survey.Program{Cadence: survey.CadenceWeeks, IntervalWeeks: 3, Weekday: int(time.Wednesday), TimeOfDay: "08:15",
				CreatedAt: utc("2026-03-12T12:00:00Z")},
			from: "2026-01-01T00:00:00Z", to: "2026-05-01T00:00:00Z",
			// Created on a Thursday: the first Wednesday after it, then every third.
			want:    []string{"2026-03-18T07:15:00Z", "2026-04-08T06:15:00Z", "2026-04-29T06:15:00Z"},
			wantLoc: "Wed 08:15",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			loc := mustLoc(t, c.zone)
			got := launches(t, &c.prog, loc, utc(c.from), utc(c.to))
			if len(got) != len(c.want) {
				t.Fatalf("launches %v, want %v", got, c.want)
			}
			for i := range got {
				if !got[i].Equal(utc(c.want[i])) {
					t.Errorf("launch %d at %s, want %s", i, got[i].UTC().Format(time.RFC3339), c.want[i])
				}
				if w := got[i].In(loc).Format("Mon 15:04"); w != c.wantLoc {
					t.Errorf("launch %d shows %s in %s, want %s", i, w, c.zone, c.wantLoc)
				}
			}
		})
	}
}

// Times that do not exist or happen twice on the day of a change.
func TestCadenceGapsAndOverlaps(t *testing.T) {
	cases := []struct {
		zone, day, tod string
		wd             time.Weekday
		want           string
	}{
		{"Europe/Berlin", "2026-03-29", "02:30", time.Sunday, "2026-03-29T01:30:00Z"},    // gap: 03:30 CEST
		{"America/New_York", "2026-03-08", "02:30", time.Sunday, "2026-03-08T07:30:00Z"}, // gap: 03:30 EDT
		{"Europe/Berlin", "2026-10-25", "02:30", time.Sunday, "2026-10-25T00:30:00Z"},    // overlap: first, CEST
		{"America/New_York", "2026-11-01", "01:30", time.Sunday, "2026-11-01T05:30:00Z"}, // overlap: first, EDT
	}
	for _, c := range cases {
		loc := mustLoc(t, c.zone)
		p := survey.Program{Cadence: survey.CadenceWeekly, Weekday: int(c.wd), TimeOfDay: c.tod}
		got, err := survey.NextLaunch(&p, loc, utc(c.day+"T00:00:00Z").Add(-24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(utc(c.want)) {
			t.Errorf("%s %s %s: launch at %s, want %s", c.zone, c.day, c.tod, got.UTC().Format(time.RFC3339), c.want)
		}
	}
}

// LatestLaunch is the last launch at or before now, and the next launch
// after it is after now, at every hour of two years, for every cadence.
func TestLatestLaunchConsistent(t *testing.T) {
	created := utc("2025-12-20T10:00:00Z")
	progs := []survey.Program{
		{Cadence: survey.CadenceWeekly, Weekday: int(time.Monday), TimeOfDay: "09:00", CreatedAt: created},
		{Cadence: survey.CadenceWeeks, IntervalWeeks: 2, Weekday: int(time.Sunday), TimeOfDay: "02:30", CreatedAt: created},
		{Cadence: survey.CadenceMonthly, Weekday: int(time.Saturday), TimeOfDay: "23:45", CreatedAt: created},
		{Cadence: survey.CadenceMonthly, Weekday: int(time.Monday), TimeOfDay: "00:00", CreatedAt: created},
	}
	for _, zone := range []string{"Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC"} {
		loc := mustLoc(t, zone)
		for _, p := range progs {
			for now := created.Add(-48 * time.Hour); now.Before(created.AddDate(2, 0, 0)); now = now.Add(2*time.Hour + 47*time.Minute) {
				last, ok := survey.LatestLaunch(&p, loc, now)
				first, err := survey.NextLaunch(&p, loc, created.Add(-time.Nanosecond))
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					if !now.Before(first) {
						t.Fatalf("%s %s at %s: no launch due, but the first was at %s", zone, p.Cadence, now, first)
					}
					continue
				}
				if last.After(now) || last.Before(created) {
					t.Fatalf("%s %s at %s: latest launch %s", zone, p.Cadence, now, last)
				}
				next, err := survey.NextLaunch(&p, loc, last)
				if err != nil {
					t.Fatal(err)
				}
				if !next.After(now) {
					t.Fatalf("%s %s at %s: latest launch %s, but %s came after it", zone, p.Cadence, now, last, next)
				}
			}
		}
	}
}

func TestNoLaunchBeforeCreation(t *testing.T) {
	loc := mustLoc(t, "Europe/Berlin")
	// Created Monday 10:00, after the 09:00 launch of that day.
	p := survey.Program{Cadence: survey.CadenceWeekly, Weekday: int(time.Monday), TimeOfDay: "09:00", CreatedAt: utc("2026-06-01T08:00:00Z")}
	if at, ok := survey.LatestLaunch(&p, loc, utc("2026-06-07T12:00:00Z")); ok {
		t.Fatalf("launch due at %s, before the program existed", at)
	}
	at, ok := survey.LatestLaunch(&p, loc, utc("2026-06-08T07:00:00Z"))
	if !ok || !at.Equal(utc("2026-06-08T07:00:00Z")) {
		t.Fatalf("latest launch %s %v, want 2026-06-08T07:00:00Z", at, ok)
	}
}
