package migrations_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulse-survey/pulse/survey"
	"github.com/pulse-survey/pulse/survey/migrations"
	"github.com/pulse-survey/pulse/survey/surveytest"
)

func TestUpFromEmpty(t *testing.T) {
	db := surveytest.OpenEmpty(t)
	ctx := context.Background()
	if err := migrations.Up(ctx, db); err != nil {
		t.Fatal(err)
	}
	// A second run is a no-op.
	if err := migrations.Up(ctx, db); err != nil {
		t.Fatalf("second run: %v", err)
	}
	ids, err := migrations.Applied(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) == 0 || ids[len(ids)-1] != migrations.Latest() {
		t.Fatalf("applied %v, want up to %s", ids, migrations.Latest())
	}
	for _, table := range []string{"org_settings", "teams", "people", "questions", "programs",
		"program_questions", "rounds", "round_teams", "round_questions", "invitations",
		"round_keys", "ballot_box", "spent_tokens", "ballots", "answers", "comments",
		"users", "user_scopes", "sessions", "account_invites"} {
		if !db.Migrator().HasTable(table) {
			t.Errorf("table %s missing", table)
		}
	}
	if db.Migrator().HasTable("box_ballots") {
		t.Error("box table created under the wrong name")
	}
}

// TestConcurrentUp starts two migrators at once, as two replicas would.
func TestConcurrentUp(t *testing.T) {
	opts := surveytest.NewDatabase(t)
	ctx := context.Background()
	const n = 3
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		db, err := survey.OpenDB(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s, _ := db.DB(); s.Close() })
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = migrations.Up(ctx, db)
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("migrator %d: %v", i, err)
		}
	}
	db, err := survey.OpenDB(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s, _ := db.DB(); s.Close() }()
	var count int64
	db.Table("schema_migrations").Where("id = ?", migrations.Latest()).Count(&count)
	if count != 1 {
		t.Fatalf("latest migration recorded %d times", count)
	}
}

// TestReleasePendingMarksUnreleasedRounds: 0009 marks the closed rounds
// that have no release (their process stopped before releasing them), so
// the scheduler releases them; released and open rounds stay unmarked.
func TestReleasePendingMarksUnreleasedRounds(t *testing.T) {
	db := surveytest.OpenEmpty(t)
	ctx := context.Background()
	if err := migrations.UpTo(ctx, db, "0008_indexes"); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2031, 3, 3, 9, 0, 0, 0, time.UTC)
	exec := func(q string, args ...any) {
		t.Helper()
		if err := db.Exec(q, args...).Error; err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec("INSERT INTO programs (id, name, cadence, interval_weeks, weekday, time_of_day, open_days, items_per_round, "+
		"min_group_size, active, created_at, updated_at) VALUES (1, 'Pulse', 'weekly', 1, 1, '09:00', 5, 8, 5, ?, ?, ?)", true, now, now)
	for id, status := range map[int]string{1: "closed", 2: "closed", 3: "open"} {
		exec("INSERT INTO rounds (id, program_id, number, status, min_group_size, opens_at, closes_at, created_at, updated_at) "+
			"VALUES (?, 1, ?, ?, 5, ?, ?, ?, ?)", id, id, status, now, now, now, now)
	}
	exec("INSERT INTO releases (round_id, min_group_size, respondents, invited, created_at) VALUES (1, 5, 7, 9, ?)", now)

	if err := migrations.Up(ctx, db); err != nil {
		t.Fatal(err)
	}
	var rs []survey.Round
	if err := db.Order("id").Find(&rs).Error; err != nil {
		t.Fatal(err)
	}
	want := map[uint]bool{1: false, 2: true, 3: false}
	if len(rs) != 3 {
		t.Fatalf("%d rounds, want 3", len(rs))
	}
	for _, r := range rs {
		if r.ReleasePending != want[r.ID] {
			t.Errorf("round %d (%s): release pending %v, want %v", r.ID, r.Status, r.ReleasePending, want[r.ID])
		}
	}
}

// TestSealedBallotsKeepsClearBox upgrades a database whose open round has
// clear ballots in the box: they survive the rebuild of the box, as clear
// ballots (no token), and the box has no rowid on SQLite.
func TestSealedBallotsKeepsClearBox(t *testing.T) {
	db := surveytest.OpenEmpty(t)
	ctx := context.Background()
	if err := migrations.UpTo(ctx, db, "0008_indexes"); err != nil {
		t.Fatal(err)
	}
	now := "2026-01-05 09:00:00"
	for _, q := range []string{
		"INSERT INTO programs (id, name, cadence, interval_weeks, weekday, time_of_day, open_days, items_per_round, min_group_size, active, created_at, updated_at) " +
			"VALUES (1, 'Pulse', 'weekly', 1, 1, '09:00', 5, 8, 5, true, '" + now + "', '" + now + "')",
		"INSERT INTO rounds (id, program_id, number, status, min_group_size, opens_at, closes_at, created_at, updated_at) " +
			"VALUES (1, 1, 1, 'open', 5, '" + now + "', '" + now + "', '" + now + "', '" + now + "')",
		"INSERT INTO ballot_box (id, round_id, unit_id, payload) VALUES ('6f1c1f7e-4b7a-4c1e-9c55-0d5f3f0e2a11', 1, 1, '{\"a\":{\"1\":3}}')",
		"INSERT INTO ballot_box (id, round_id, unit_id, payload) VALUES ('0a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d', 1, 1, '{\"a\":{\"1\":4}}')",
	} {
		if err := db.Exec(q).Error; err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := migrations.Up(ctx, db); err != nil {
		t.Fatal(err)
	}
	var rows []survey.BoxBallot
	if err := db.Order("id").Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Token != nil || string(rows[1].Payload) != `{"a":{"1":3}}` {
		t.Fatalf("box after upgrade: %+v", rows)
	}
	var r survey.Round
	if err := db.First(&r, 1).Error; err != nil || r.InvalidBallots != 0 {
		t.Fatalf("round after upgrade: %+v, %v", r, err)
	}
	if db.Dialector.Name() == "sqlite" {
		var ddl string
		db.Raw("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'ballot_box'").Scan(&ddl)
		if !strings.Contains(ddl, "WITHOUT ROWID") {
			t.Errorf("ballot_box keeps a rowid: %s", ddl)
		}
		// The round cannot be deleted while ballots wait in its box.
		if err := db.Exec("DELETE FROM rounds WHERE id = 1").Error; err == nil {
			t.Error("the box lost its foreign key to rounds")
		}
	}
}

// others with the first free number, and then the index refuses new ones.
func TestProgramNamesMigration(t *testing.T) {
	db := surveytest.OpenEmpty(t)
	ctx := context.Background()
	if err := migrations.UpTo(ctx, db, "0009_release_pending"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"Pulse", "pulse", "Team", "PULSE", "Pulse (2)", "Other"} {
		if err := db.Exec("INSERT INTO programs (name, cadence, interval_weeks, weekday, time_of_day, open_days, items_per_round, "+
			"min_group_size, active) VALUES (?, 'weekly', 1, 1, '09:00', 5, 8, 5, ?)", name, true).Error; err != nil {
			t.Fatal(err)
		}
	}
	if err := migrations.Up(ctx, db); err != nil {
		t.Fatalf("upgrading a database with duplicate program names: %v", err)
	}
	var names []string
	if err := db.Table("programs").Order("id").Pluck("name", &names).Error; err != nil {
		t.Fatal(err)
	}
	want := []string{"Pulse", "pulse (3)", "Team", "PULSE (4)", "Pulse (2)", "Other"}
	if strings.Join(names, "|") != strings.Join(want, "|") {
		t.Fatalf("names after the upgrade %q, want %q", names, want)
	}
	err := db.Exec("INSERT INTO programs (name, cadence, interval_weeks, weekday, time_of_day, open_days, items_per_round, "+
		"min_group_size, active) VALUES ('other', 'weekly', 1, 1, '09:00', 5, 8, 5, ?)", true).Error
	if err == nil {
		t.Fatal("the unique index accepted a duplicate name")
	}
}
