package survey_test

import (
	"reflect"
	"testing"
	"time"

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
