package survey_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/pulse-survey/pulse/survey"
)

// releaseRows counts the release rows of a round (the reports package
// writes them; survey only reads the count here).
func releaseRows(t *testing.T, db *gorm.DB, roundID uint) int64 {
	t.Helper()
	var n int64
	if err := db.Table("releases").Where("round_id = ?", roundID).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// A round closed by hand whose release did not happen (the process stopped
// or the release failed) is released by the scheduler's next pass, once,
// however many replicas run it. Before the pending mark, the close job of
// such a round found it closed at its first attempt and did nothing.
func TestSchedulerCompletesPendingRelease(t *testing.T) {
	e := newSchedEnv(t, schedSetup{start: utc("2031-03-01T12:00:00Z"), people: 4})
	e.set("2031-03-03T08:00:00Z")
	e.runOnce(e.instance(nil))
	rs := e.rounds()
	if len(rs) != 1 || rs[0].Status != survey.RoundOpen {
		t.Fatalf("rounds: %+v", rs)
	}
	id := rs[0].ID
	e.takePart(id, 0)

	failing := e.servicesWith(e.open(), releaseFunc(func(context.Context, *gorm.DB, uint) error {
		return errors.New("release: the process is going away")
	}))
	if err := failing.Rounds.Close(e.ctx, id); !errors.Is(err, survey.ErrReleasePending) {
		t.Fatalf("close with a failing release: %v, want ErrReleasePending", err)
	}
	r, err := e.svc.Rounds.Round(e.ctx, id)
	if err != nil || r.Status != survey.RoundClosed || !r.ReleasePending || releaseRows(t, e.db, id) != 0 {
		t.Fatalf("after the failed release: %+v %v, %d release rows; want closed, pending, none", r, err, releaseRows(t, e.db, id))
	}

	// Two replicas run their pass at once.
	insts := []*survey.Scheduler{e.instance(nil), e.instance(nil)}
	var wg sync.WaitGroup
	errs := make([]error, len(insts))
	for i, s := range insts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.RunOnce(e.ctx)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	r, err = e.svc.Rounds.Round(e.ctx, id)
	if err != nil || r.ReleasePending || releaseRows(t, e.db, id) != 1 || e.closes[id] != 1 {
		t.Fatalf("after the pass: %+v %v, %d release rows, %d release runs; want not pending, 1, 1",
			r, err, releaseRows(t, e.db, id), e.closes[id])
	}
	e.clock.Advance(time.Minute)
	e.runOnce(insts[0])
	if e.closes[id] != 1 {
		t.Errorf("the release ran %d times after a second pass, want 1", e.closes[id])
	}
}

// A release that keeps failing is retried after the jobs' backoff, not at
// every pass, and completes once it works.
func TestSchedulerPendingReleaseBackoff(t *testing.T) {
	e := newSchedEnv(t, schedSetup{start: utc("2031-03-01T12:00:00Z"), people: 4})
	e.set("2031-03-03T08:00:00Z")
	e.runOnce(e.instance(nil))
	id := e.rounds()[0].ID

	var mu sync.Mutex
	failures, calls := 3, 0
	works := counted(&e.mu, e.closes)
	svc := e.servicesWith(e.open(), releaseFunc(func(ctx context.Context, tx *gorm.DB, roundID uint) error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if failures > 0 {
			failures--
			return errors.New("release: disk full")
		}
		return works(ctx, tx, roundID)
	}))
	if err := svc.Rounds.Close(e.ctx, id); !errors.Is(err, survey.ErrReleasePending) {
		t.Fatalf("close: %v, want ErrReleasePending", err)
	}
	s := survey.NewScheduler(svc, survey.SchedulerOptions{BaseURL: schedBaseURL})
	steps := []struct {
		after time.Duration
		calls int
	}{
		{0, 2},                // the first pass retries at once (a restart would too)
		{30 * time.Second, 2}, // within the first backoff (1 min)
		{time.Minute, 3},      // due: fails a third time
		{4 * time.Minute, 3},  // within the second backoff (5 min)
		{time.Minute, 4},      // due: works
		{time.Hour, 4},        // nothing is owed any more
	}
	for i, st := range steps {
		e.clock.Advance(st.after)
		e.runOnce(s)
		mu.Lock()
		got := calls
		mu.Unlock()
		if got != st.calls {
			t.Fatalf("step %d (+%s): %d release attempts, want %d", i, st.after, got, st.calls)
		}
	}
	if r, _ := e.svc.Rounds.Round(e.ctx, id); r.ReleasePending || releaseRows(t, e.db, id) != 1 {
		t.Errorf("round %+v with %d release rows, want released", r, releaseRows(t, e.db, id))
	}
}

// Services without a releaser refuse to close: a round must not close
// into a state nothing releases.
func TestCloseNeedsReleaser(t *testing.T) {
	e := newRoundEnv(t)
	s := newSmallRound(e)
	e.useReleaser(nil)
	if err := e.svc.Rounds.Close(e.ctx, s.round.ID); err == nil {
		t.Fatal("closed without a releaser")
	}
	if r, err := e.svc.Rounds.Round(e.ctx, s.round.ID); err != nil || r.Status != survey.RoundOpen || r.ReleasePending {
		t.Errorf("round after the refused close: %+v %v, want open", r, err)
	}
}

func TestRelease(t *testing.T) {
	e := newRoundEnv(t)
	s := newSmallRound(e)
	wantIs(t, e.svc.Rounds.Release(e.ctx, s.round.ID), survey.ErrConflict)
	wantIs(t, e.svc.Rounds.Release(e.ctx, 4711), survey.ErrNotFound)
	if err := e.svc.Rounds.Close(e.ctx, s.round.ID); err != nil {
		t.Fatal(err)
	}
	r, err := e.svc.Rounds.Round(e.ctx, s.round.ID)
	if err != nil || r.Status != survey.RoundClosed || r.ReleasePending || releaseRows(t, e.db, r.ID) != 1 {
		t.Fatalf("after close: %+v %v, %d release rows; want closed, released", r, err, releaseRows(t, e.db, r.ID))
	}
	// Recomputing works on a released round and leaves nothing pending.
	if err := e.svc.Rounds.Release(e.ctx, s.round.ID); err != nil {
		t.Fatal(err)
	}
	if r, _ := e.svc.Rounds.Round(e.ctx, s.round.ID); r.ReleasePending || releaseRows(t, e.db, r.ID) != 1 {
		t.Errorf("after a recompute: %+v", r)
	}
}
