package survey_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/pulse-survey/pulse/survey"
)

// newBankEnv is an env whose question bank holds the built-in items.
func newBankEnv(t *testing.T) (*env, []survey.Question) {
	t.Helper()
	e := newOrgEnv(t)
	if err := e.svc.Programs.SyncBuiltinQuestions(e.ctx); err != nil {
		t.Fatal(err)
	}
	qs, err := e.svc.Programs.Questions(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) < 6 {
		t.Fatalf("bank has %d questions, tests need at least 6", len(qs))
	}
	return e, qs
}

func questionsByKey(t *testing.T, e *env) map[string]survey.Question {
	t.Helper()
	qs, err := e.svc.Programs.Questions(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]survey.Question, len(qs))
	for _, q := range qs {
		if _, dup := m[q.Key]; dup {
			t.Fatalf("question key %s stored twice", q.Key)
		}
		m[q.Key] = q
	}
	return m
}

func TestSyncBuiltinQuestions(t *testing.T) {
	e := newEnv(t)
	bank := survey.BuiltinBank()
	if err := e.svc.Programs.SyncBuiltinQuestions(e.ctx); err != nil {
		t.Fatal(err)
	}
	got := questionsByKey(t, e)
	if len(got) != len(bank) {
		t.Fatalf("bank synced to %d questions, want %d", len(got), len(bank))
	}
	for _, b := range bank {
		q, ok := got[b.Key]
		if !ok {
			t.Errorf("built-in %s missing", b.Key)
			continue
		}
		if q.Text != b.Text || q.Dimension != b.Dimension || q.Facet != b.Facet || q.Core != b.Core || !q.BuiltIn {
			t.Errorf("built-in %s stored as %+v", b.Key, q)
		}
	}

	// Idempotent.
	if err := e.svc.Programs.SyncBuiltinQuestions(e.ctx); err != nil {
		t.Fatalf("second sync: %v", err)
	}
	if n := len(questionsByKey(t, e)); n != len(bank) {
		t.Fatalf("after a second sync the bank has %d questions, want %d", n, len(bank))
	}

	// An edited row keeps its text (past rounds keep their own wording),
	// and a deleted built-in comes back.
	edited, removed := bank[0].Key, bank[len(bank)-1].Key
	if err := e.db.Model(&survey.Question{}).Where(map[string]any{"key": edited}).Update("text", "Edited by HR").Error; err != nil {
		t.Fatal(err)
	}
	if err := e.db.Where(map[string]any{"key": removed}).Delete(&survey.Question{}).Error; err != nil {
		t.Fatal(err)
	}
	before := questionsByKey(t, e)
	if err := e.svc.Programs.SyncBuiltinQuestions(e.ctx); err != nil {
		t.Fatalf("third sync: %v", err)
	}
	after := questionsByKey(t, e)
	if len(after) != len(bank) {
		t.Fatalf("after re-sync the bank has %d questions, want %d", len(after), len(bank))
	}
	if after[edited].Text != "Edited by HR" {
		t.Fatalf("sync overwrote an edited question's text with %q", after[edited].Text)
	}
	if after[edited].ID != before[edited].ID {
		t.Fatal("sync replaced an existing question row")
	}
	if _, ok := after[removed]; !ok {
		t.Fatalf("sync did not restore the missing built-in %s", removed)
	}
}

// validProgram is a program input that CreateProgram accepts.
func validProgram(qs []survey.Question) survey.ProgramInput {
	return survey.ProgramInput{
		Name:          "Team pulse",
		Cadence:       survey.CadenceWeekly,
		Weekday:       time.Monday,
		TimeOfDay:     "09:00",
		OpenDays:      5,
		ItemsPerRound: 5,
		MinGroupSize:  5,
		QuestionIDs:   []uint{qs[0].ID, qs[1].ID, qs[2].ID},
	}
}

func TestCreateProgramValidation(t *testing.T) {
	e, qs := newBankEnv(t)
	tests := []struct {
		name  string
		edit  func(*survey.ProgramInput)
		field string
	}{
		{"empty name", func(in *survey.ProgramInput) { in.Name = "  " }, "name"},
		{"bad cadence", func(in *survey.ProgramInput) { in.Cadence = "daily" }, "cadence"},
		{"empty cadence", func(in *survey.ProgramInput) { in.Cadence = "" }, "cadence"},
		{"every 0 weeks", func(in *survey.ProgramInput) { in.Cadence, in.IntervalWeeks = survey.CadenceWeeks, 0 }, "interval_weeks"},
		{"every 53 weeks", func(in *survey.ProgramInput) { in.Cadence, in.IntervalWeeks = survey.CadenceWeeks, 53 }, "interval_weeks"},
		{"weekday 7", func(in *survey.ProgramInput) { in.Weekday = 7 }, "weekday"},
		{"weekday -1", func(in *survey.ProgramInput) { in.Weekday = -1 }, "weekday"},
		{"time 25:00", func(in *survey.ProgramInput) { in.TimeOfDay = "25:00" }, "time_of_day"},
		{"time 09:60", func(in *survey.ProgramInput) { in.TimeOfDay = "09:60" }, "time_of_day"},
		{"time 9:00", func(in *survey.ProgramInput) { in.TimeOfDay = "9:00" }, "time_of_day"},
		{"time empty", func(in *survey.ProgramInput) { in.TimeOfDay = "" }, "time_of_day"},
		{"open 0 days", func(in *survey.ProgramInput) { in.OpenDays = 0 }, "open_days"},
		{"open 29 days", func(in *survey.ProgramInput) { in.OpenDays = 29 }, "open_days"},
		{"2 items", func(in *survey.ProgramInput) { in.ItemsPerRound = 2 }, "items_per_round"},
		{"21 items", func(in *survey.ProgramInput) { in.ItemsPerRound = 21 }, "items_per_round"},
		{"k=2", func(in *survey.ProgramInput) { in.MinGroupSize = 2 }, "min_group_size"},
		{"k=101", func(in *survey.ProgramInput) { in.MinGroupSize = 101 }, "min_group_size"},
		{"no questions", func(in *survey.ProgramInput) { in.QuestionIDs = nil }, "question_ids"},
		{"empty question list", func(in *survey.ProgramInput) { in.QuestionIDs = []uint{} }, "question_ids"},
		{"unknown question", func(in *survey.ProgramInput) { in.QuestionIDs = append(in.QuestionIDs, 999999) }, "question_ids"},
		{"only unknown questions", func(in *survey.ProgramInput) { in.QuestionIDs = []uint{999998, 999999} }, "question_ids"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := validProgram(qs)
			tc.edit(&in)
			_, err := e.svc.Programs.CreateProgram(e.ctx, in)
			wantField(t, err, tc.field)
		})
	}
	ps, err := e.svc.Programs.Programs(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 0 {
		t.Fatalf("rejected inputs created %d programs", len(ps))
	}

	// k=3 is the floor and is accepted.
	in := validProgram(qs)
	in.MinGroupSize = 3
	if _, err := e.svc.Programs.CreateProgram(e.ctx, in); err != nil {
		t.Fatalf("k=3: %v", err)
	}
}

func TestProgramRoundTrip(t *testing.T) {
	e, qs := newBankEnv(t)
	// Deliberately not in id order: the program keeps the order given.
	order := []uint{qs[4].ID, qs[1].ID, qs[5].ID, qs[0].ID}
	in := survey.ProgramInput{
		Name:          "  Biweekly pulse ",
		Cadence:       survey.CadenceWeeks,
		IntervalWeeks: 2,
		Weekday:       time.Tuesday,
		TimeOfDay:     "09:30",
		OpenDays:      4,
		ItemsPerRound: 6,
		MinGroupSize:  4,
		QuestionIDs:   order,
	}
	created, err := e.svc.Programs.CreateProgram(e.ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if created.ID == 0 {
		t.Fatal("CreateProgram returned no id")
	}

	p, got, err := e.svc.Programs.Program(e.ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := survey.Program{
		ID: created.ID, Name: "Biweekly pulse", Cadence: survey.CadenceWeeks, IntervalWeeks: 2,
		Weekday: int(time.Tuesday), TimeOfDay: "09:30", OpenDays: 4, ItemsPerRound: 6, MinGroupSize: 4, Active: true,
	}
	p.CreatedAt, p.UpdatedAt = time.Time{}, time.Time{}
	if *p != want {
		t.Fatalf("Program = %+v\nwant      %+v", *p, want)
	}
	var ids []uint
	for _, q := range got {
		ids = append(ids, q.ID)
	}
	if !reflect.DeepEqual(ids, order) {
		t.Fatalf("questions come back as %v, want %v", ids, order)
	}
	byID := map[uint]survey.Question{}
	for _, q := range qs {
		byID[q.ID] = q
	}
	for _, q := range got {
		if q.Key != byID[q.ID].Key || q.Text != byID[q.ID].Text {
			t.Fatalf("question %d comes back as %+v, want %+v", q.ID, q, byID[q.ID])
		}
	}

	_, _, err = e.svc.Programs.Program(e.ctx, 999999)
	wantIs(t, err, survey.ErrNotFound)
}

func TestProgramCadenceNormalised(t *testing.T) {
	e, qs := newBankEnv(t)
	tests := []struct {
		cadence      string
		interval     int
		wantInterval int
	}{
		{survey.CadenceWeekly, 7, 1},
		{survey.CadenceMonthly, 3, 0},
		{survey.CadenceWeeks, 1, 1},
		{survey.CadenceWeeks, 52, 52},
	}
	for _, tc := range tests {
		in := validProgram(qs)
		in.Cadence, in.IntervalWeeks = tc.cadence, tc.interval
		in.Name = fmt.Sprintf("Pulse %s/%d", tc.cadence, tc.interval) // names are unique
		created, err := e.svc.Programs.CreateProgram(e.ctx, in)
		if err != nil {
			t.Fatalf("%s/%d: %v", tc.cadence, tc.interval, err)
		}
		p, _, err := e.svc.Programs.Program(e.ctx, created.ID)
		if err != nil {
			t.Fatal(err)
		}
		if p.Cadence != tc.cadence || p.IntervalWeeks != tc.wantInterval {
			t.Errorf("%s with interval %d stored as %s/%d, want interval %d", tc.cadence, tc.interval, p.Cadence, p.IntervalWeeks, tc.wantInterval)
		}
	}
}

func TestProgramDuplicateQuestionIDs(t *testing.T) {
	e, qs := newBankEnv(t)
	in := validProgram(qs)
	in.QuestionIDs = []uint{qs[2].ID, qs[0].ID, qs[2].ID, qs[1].ID, qs[0].ID}
	created, err := e.svc.Programs.CreateProgram(e.ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	_, got, err := e.svc.Programs.Program(e.ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []uint
	for _, q := range got {
		ids = append(ids, q.ID)
	}
	if want := []uint{qs[2].ID, qs[0].ID, qs[1].ID}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("questions %v, want first occurrences %v", ids, want)
	}
}

// A new program starts paused, with the organisation's k and a balanced
// selection: each dimension's core item and one item of every other facet.
func TestNewProgramDefaults(t *testing.T) {
	e, bank := newBankEnv(t)
	if _, err := e.svc.Org.UpdateSettings(e.ctx, survey.SettingsInput{Name: "Acme", TimeZone: "Europe/Berlin", MinGroupSize: 7}); err != nil {
		t.Fatal(err)
	}
	in, err := e.svc.Programs.NewProgramDefaults(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !in.Paused || in.MinGroupSize != 7 || in.Cadence != survey.CadenceWeeks || in.IntervalWeeks != 2 ||
		in.Weekday != time.Monday || in.TimeOfDay != "09:00" || in.OpenDays != 5 || in.ItemsPerRound != 8 || in.Name != "" {
		t.Fatalf("defaults %+v", in)
	}
	byID := map[uint]survey.Question{}
	for _, q := range bank {
		byID[q.ID] = q
	}
	cores, facets := map[string]int{}, map[string]int{}
	for _, id := range in.QuestionIDs {
		q := byID[id]
		if q.Core {
			cores[q.Dimension]++
		}
		facets[q.Dimension+"/"+q.Facet]++
	}
	for _, d := range survey.Dimensions() {
		if cores[d] != 1 {
			t.Errorf("%d core items of %s selected, want 1", cores[d], d)
		}
		for _, f := range survey.FacetsOf(d) {
			if facets[d+"/"+f] != 1 {
				t.Errorf("facet %s/%s selected %d times, want once", d, f, facets[d+"/"+f])
			}
		}
	}
	if len(in.QuestionIDs) >= len(bank) {
		t.Errorf("the default selects %d of %d items: all of them", len(in.QuestionIDs), len(bank))
	}

	in.Name = "First pulse"
	p, err := e.svc.Programs.CreateProgram(e.ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if p.Active {
		t.Error("a program created from the defaults is active: it would launch at the next occurrence unconfirmed")
	}
	_, preview, err := e.svc.Programs.PreviewQuestions(e.ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	for _, q := range preview {
		per[q.Dimension]++
	}
	for _, d := range survey.Dimensions() {
		if per[d] != 2 {
			t.Errorf("the first round asks %d items of %s, want 2 of 8 (%v)", per[d], d, per)
		}
	}
}

// A round draws no more than its share from one dimension, even when the
// program selects the whole bank in bank order (where program order alone
// drew 5 of 8 from Purpose), across round sizes and successive rounds.
func TestRoundDrawSpreadsDimensions(t *testing.T) {
	e := newRoundEnv(t)
	e.people(e.root(), "staff", 6)
	p := e.program("Pulse") // the whole bank, 8 items per round
	_, qs, err := e.svc.Programs.Program(e.ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	in := survey.ProgramInput{Name: p.Name, Cadence: p.Cadence, IntervalWeeks: p.IntervalWeeks, Weekday: time.Monday,
		TimeOfDay: p.TimeOfDay, OpenDays: p.OpenDays, MinGroupSize: p.MinGroupSize, QuestionIDs: questionIDs(qs)}
	for _, n := range []int{4, 5, 8, 10, 13, 20} {
		in.ItemsPerRound = n
		if _, err := e.svc.Programs.UpdateProgram(e.ctx, p.ID, in); err != nil {
			t.Fatal(err)
		}
		_, preview, err := e.svc.Programs.PreviewQuestions(e.ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		share := (n + 3) / 4
		per := map[string]int{}
		for _, q := range preview {
			per[q.Dimension]++
		}
		if len(preview) != n {
			t.Errorf("%d items per round: the round asks %d", n, len(preview))
		}
		for d, got := range per {
			if got > share {
				t.Errorf("%d items per round: %d of them from %s, more than its share of %d (%v)", n, got, d, share, per)
			}
		}
	}
	in.ItemsPerRound = 8
	if _, err := e.svc.Programs.UpdateProgram(e.ctx, p.ID, in); err != nil {
		t.Fatal(err)
	}
	for round := 1; round <= 3; round++ {
		r := e.launch(p.ID)
		per := map[string]int{}
		for _, q := range e.roundQuestions(r.ID) {
			per[q.Dimension]++
		}
		for _, d := range survey.Dimensions() {
			if per[d] != 2 {
				t.Errorf("round %d asks %d items of %s, want 2 of 8 (%v)", round, per[d], d, per)
			}
		}
		if err := e.svc.Rounds.Close(e.ctx, r.ID); err != nil {
			t.Fatal(err)
		}
	}
}

// Program names are unique ignoring case and surrounding spaces: a clash
// is a field error on create and on rename, the unique index holds when the
// check is bypassed, and of concurrent creates of one name exactly one wins.
func TestProgramNamesUnique(t *testing.T) {
	e, qs := newBankEnv(t)
	first, err := e.svc.Programs.CreateProgram(e.ctx, validProgram(qs))
	if err != nil {
		t.Fatal(err)
	}
	dup := validProgram(qs)
	dup.Name = "  team PULSE "
	_, err = e.svc.Programs.CreateProgram(e.ctx, dup)
	wantField(t, err, "name")
	other := validProgram(qs)
	other.Name = "Team pulse 2"
	second, err := e.svc.Programs.CreateProgram(e.ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	other.Name = "TEAM PULSE"
	_, err = e.svc.Programs.UpdateProgram(e.ctx, second.ID, other)
	wantField(t, err, "name")
	// A program may keep its own name, in another case.
	own := validProgram(qs)
	own.Name = "team pulse"
	if _, err := e.svc.Programs.UpdateProgram(e.ctx, first.ID, own); err != nil {
		t.Fatalf("renaming a program to its own name in lower case: %v", err)
	}
	if n := e.countWhere("programs", "1 = 1"); n != 2 {
		t.Fatalf("%d programs, want 2", n)
	}

	// The index, past the service's check.
	err = e.db.Create(&survey.Program{Name: "TEAM pulse", Cadence: survey.CadenceWeekly, Weekday: 1, TimeOfDay: "09:00",
		OpenDays: 5, ItemsPerRound: 5, MinGroupSize: 5}).Error
	if !errors.Is(err, gorm.ErrDuplicatedKey) {
		t.Fatalf("inserting a duplicate name directly: %v, want the unique index to refuse it", err)
	}

	// Several names, each created by several goroutines released at once.
	const names, n = 5, 8
	for k := 0; k < names; k++ {
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range errs {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				in := validProgram(qs)
				in.Name = fmt.Sprintf("Race %d", k)
				if i%2 == 1 {
					in.Name = fmt.Sprintf(" race %d", k)
				}
				<-start
				_, errs[i] = e.svc.Programs.CreateProgram(e.ctx, in)
			}(i)
		}
		close(start)
		wg.Wait()
		ok := 0
		for _, err := range errs {
			var ve *survey.ValidationError
			switch {
			case err == nil:
				ok++
			case errors.As(err, &ve) && ve.Fields["name"] != "":
			default:
				t.Errorf("concurrent create: %v, want success or a name field error", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d concurrent creates of one name succeeded, want 1", ok)
		}
	}
}

// A program that never had a round can be deleted, with its selection and
// its queued launches; one with a round cannot, and stays as it was.
func TestDeleteProgram(t *testing.T) {
	e := newRoundEnv(t)
	e.people(e.root(), "staff", 6)
	unused := e.program("Never launched")
	used := e.program("Launched")
	if err := e.db.Create(&survey.Job{Kind: "launch", Key: fmt.Sprintf("launch:program:%d:2030-01-07T08:00Z", unused.ID),
		RunAt: time.Date(2030, 1, 7, 8, 0, 0, 0, time.UTC)}).Error; err != nil {
		t.Fatal(err)
	}
	r := e.launch(used.ID)

	got, err := e.svc.Programs.DeleteProgram(e.ctx, unused.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "Never launched" {
		t.Errorf("DeleteProgram returned %+v", got)
	}
	_, _, err = e.svc.Programs.Program(e.ctx, unused.ID)
	wantIs(t, err, survey.ErrNotFound)
	if n := e.countWhere("program_questions", "program_id = ?", unused.ID); n != 0 {
		t.Errorf("%d selected items left behind", n)
	}
	if n := e.countWhere("jobs", "key LIKE ?", fmt.Sprintf("launch:program:%d:%%", unused.ID)); n != 0 {
		t.Errorf("%d launch jobs left behind", n)
	}
	_, err = e.svc.Programs.DeleteProgram(e.ctx, unused.ID)
	wantIs(t, err, survey.ErrNotFound)

	_, err = e.svc.Programs.DeleteProgram(e.ctx, used.ID)
	wantIs(t, err, survey.ErrConflict)
	if !strings.Contains(err.Error(), "pause it") {
		t.Errorf("refusal %q does not say to pause the program instead", err)
	}
	if _, qs, err := e.svc.Programs.Program(e.ctx, used.ID); err != nil || len(qs) == 0 {
		t.Fatalf("the launched program after a refused delete: %d items, %v", len(qs), err)
	}
	if _, err := e.svc.Rounds.Round(e.ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	// Its name is free again once deleted.
	e.program("Never launched")
}
