package survey

import (
	"fmt"
	"time"
)

// The cadence of a program, in the organisation's time zone:
//
//   - weekly: every week on Weekday at TimeOfDay;
//   - every_n_weeks: every IntervalWeeks weeks on Weekday at TimeOfDay,
//     counted from the first such day at or after the program was created;
//   - monthly: on the first Weekday of every month at TimeOfDay.
//
// No launch is due before the program was created. Wall-clock times are
// kept across daylight-saving changes (09:00 stays 09:00). A time that does
// not exist on a day (a spring-forward gap) launches at the same offset from
// before the change, e.g. 02:30 becomes 03:30; a time that happens twice (a
// fall-back overlap) launches at its first occurrence.

// LatestLaunch returns the most recent scheduled launch of p at or before
// now, and false when none is due yet (p was created after the last one).
func LatestLaunch(p *Program, loc *time.Location, now time.Time) (time.Time, bool) {
	hh, mm, ok := parseTimeOfDay(p.TimeOfDay)
	if !ok {
		return time.Time{}, false
	}
	var t time.Time
	switch p.Cadence {
	case CadenceMonthly:
		ln := now.In(loc)
		y, m := ln.Year(), ln.Month()
		t = firstWeekday(y, m, time.Weekday(p.Weekday), hh, mm, loc)
		if t.After(now) {
			y, m = prevMonth(y, m)
			t = firstWeekday(y, m, time.Weekday(p.Weekday), hh, mm, loc)
		}
	case CadenceWeekly, CadenceWeeks:
		step := 7 * weeks(p)
		a := weeklyAnchor(p, hh, mm, loc)
		days := civilDays(a, now.In(loc))
		if days < 0 {
			return time.Time{}, false
		}
		k := days / step
		t = atCivil(a, k*step, hh, mm, loc)
		if t.After(now) {
			if k == 0 {
				return time.Time{}, false
			}
			t = atCivil(a, (k-1)*step, hh, mm, loc)
		}
	default:
		return time.Time{}, false
	}
	if t.Before(p.CreatedAt) || t.After(now) {
		return time.Time{}, false
	}
	return t, true
}

// NextLaunch returns the first scheduled launch of p strictly after t.
func NextLaunch(p *Program, loc *time.Location, t time.Time) (time.Time, error) {
	hh, mm, ok := parseTimeOfDay(p.TimeOfDay)
	if !ok {
		return time.Time{}, fmt.Errorf("survey: program %d: bad time of day %q", p.ID, p.TimeOfDay)
	}
	if t.Before(p.CreatedAt) {
		t = p.CreatedAt.Add(-time.Nanosecond)
	}
	switch p.Cadence {
	case CadenceMonthly:
		lt := t.In(loc)
		y, m := lt.Year(), lt.Month()
		for {
			n := firstWeekday(y, m, time.Weekday(p.Weekday), hh, mm, loc)
			if n.After(t) {
				return n, nil
			}
			if m == time.December {
				y, m = y+1, time.January
			} else {
				m++
			}
		}
	case CadenceWeekly, CadenceWeeks:
		step := 7 * weeks(p)
		a := weeklyAnchor(p, hh, mm, loc)
		days := civilDays(a, t.In(loc))
		k := 0
		if days > 0 {
			k = days / step
		}
		for {
			n := atCivil(a, k*step, hh, mm, loc)
			if n.After(t) {
				return n, nil
			}
			k++
		}
	}
	return time.Time{}, fmt.Errorf("survey: program %d: unknown cadence %q", p.ID, p.Cadence)
}

// weeks is the cadence's step in weeks.
func weeks(p *Program) int {
	if p.Cadence == CadenceWeeks && p.IntervalWeeks > 0 {
		return p.IntervalWeeks
	}
	return 1
}

func parseTimeOfDay(s string) (hh, mm int, ok bool) {
	t, err := time.Parse("15:04", s)
	if err != nil || len(s) != 5 {
		return 0, 0, false
	}
	return t.Hour(), t.Minute(), true
}

// weeklyAnchor is the first Weekday at TimeOfDay at or after the program's
// creation, as a local midnight (its civil date).
func weeklyAnchor(p *Program, hh, mm int, loc *time.Location) time.Time {
	c := p.CreatedAt.In(loc)
	d := time.Date(c.Year(), c.Month(), c.Day(), 0, 0, 0, 0, time.UTC)
	for i := 0; i < 8; i++ {
		day := d.AddDate(0, 0, i)
		if int(day.Weekday()) != p.Weekday {
			continue
		}
		if !wallTime(day.Year(), day.Month(), day.Day(), hh, mm, loc).Before(p.CreatedAt) {
			return day
		}
	}
	return d // unreachable for a valid weekday
}

// civilDays counts calendar days from the civil date a (UTC midnight) to
// the local date of t.
func civilDays(a time.Time, t time.Time) int {
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	// Unix seconds, not a Duration: a Duration overflows after 292 years.
	return int((d.Unix() - a.Unix()) / 86400)
}

// atCivil is the civil date a plus days, at hh:mm in loc.
func atCivil(a time.Time, days, hh, mm int, loc *time.Location) time.Time {
	d := a.AddDate(0, 0, days)
	return wallTime(d.Year(), d.Month(), d.Day(), hh, mm, loc)
}

func firstWeekday(y int, m time.Month, wd time.Weekday, hh, mm int, loc *time.Location) time.Time {
	d := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	for d.Weekday() != wd {
		d = d.AddDate(0, 0, 1)
	}
	return wallTime(y, m, d.Day(), hh, mm, loc)
}

func prevMonth(y int, m time.Month) (int, time.Month) {
	if m == time.January {
		return y - 1, time.December
	}
	return y, m - 1
}

// wallTime is the instant at which clocks in loc show the given date and
// time. time.Date leaves the choice open in gaps and overlaps (and it does
// differ between zones), so both are resolved here: a gap uses the offset
// from before the change, an overlap its first occurrence.
func wallTime(y int, m time.Month, d, hh, mm int, loc *time.Location) time.Time {
	wall := time.Date(y, m, d, hh, mm, 0, 0, time.UTC)
	probe := time.Date(y, m, d, hh, mm, 0, 0, loc)
	var best time.Time
	for _, at := range []time.Time{probe.Add(-12 * time.Hour), probe.Add(12 * time.Hour)} {
		_, off := at.In(loc).Zone()
		inst := wall.Add(-time.Duration(off) * time.Second)
		l := inst.In(loc)
		if l.Year() == y && l.Month() == m && l.Day() == d && l.Hour() == hh && l.Minute() == mm {
			if best.IsZero() || inst.Before(best) {
				best = inst
			}
		}
	}
	if !best.IsZero() {
		return best.UTC()
	}
	// A gap: use the offset in force before it.
	_, off := probe.Add(-12 * time.Hour).In(loc).Zone()
	return wall.Add(-time.Duration(off) * time.Second).UTC()
}
