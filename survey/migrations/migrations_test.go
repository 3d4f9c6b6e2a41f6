package migrations_test

import (
	"context"
	"sync"
	"testing"

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
