package survey_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pulse-survey/pulse/survey"
)

func questionIDs(qs []survey.Question) []uint {
	ids := make([]uint, len(qs))
	for i, q := range qs {
		ids[i] = q.ID
	}
	return ids
}

func TestUpdateProgram(t *testing.T) {
	e, qs := newBankEnv(t)
	p, err := e.svc.Programs.CreateProgram(e.ctx, validProgram(qs))
	if err != nil {
		t.Fatal(err)
	}
	order := []uint{qs[5].ID, qs[3].ID, qs[0].ID, qs[3].ID}
	in := survey.ProgramInput{Name: " Monthly pulse ", Cadence: survey.CadenceMonthly, IntervalWeeks: 9, Weekday: time.Thursday,
		TimeOfDay: "14:30", OpenDays: 7, ItemsPerRound: 4, MinGroupSize: 3, QuestionIDs: order, Paused: true}
	up, err := e.svc.Programs.UpdateProgram(e.ctx, p.ID, in)
	if err != nil {
		t.Fatal(err)
	}
	got, gotQs, err := e.svc.Programs.Program(e.ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := survey.Program{ID: p.ID, Name: "Monthly pulse", Cadence: survey.CadenceMonthly, IntervalWeeks: 0, Weekday: int(time.Thursday),
		TimeOfDay: "14:30", OpenDays: 7, ItemsPerRound: 4, MinGroupSize: 3, Active: false}
	got.CreatedAt, got.UpdatedAt = time.Time{}, time.Time{}
	if *got != want {
		t.Fatalf("Program = %+v\nwant      %+v", *got, want)
	}
	if up.Name != "Monthly pulse" || up.Active {
		t.Errorf("UpdateProgram returned %+v", up)
	}
	if ids := questionIDs(gotQs); !reflect.DeepEqual(ids, []uint{qs[5].ID, qs[3].ID, qs[0].ID}) {
		t.Errorf("selection %v, want the new order without repeats", ids)
	}

	// Resuming it.
	in.Paused = false
	if _, err := e.svc.Programs.UpdateProgram(e.ctx, p.ID, in); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := e.svc.Programs.Program(e.ctx, p.ID); !got.Active {
		t.Error("program still paused")
	}

	t.Run("validation", func(t *testing.T) {
		for field, edit := range map[string]func(*survey.ProgramInput){
			"name":            func(in *survey.ProgramInput) { in.Name = "" },
			"cadence":         func(in *survey.ProgramInput) { in.Cadence = "daily" },
			"min_group_size":  func(in *survey.ProgramInput) { in.MinGroupSize = 2 },
			"question_ids":    func(in *survey.ProgramInput) { in.QuestionIDs = nil },
			"items_per_round": func(in *survey.ProgramInput) { in.ItemsPerRound = 21 },
		} {
			bad := validProgram(qs)
			edit(&bad)
			_, err := e.svc.Programs.UpdateProgram(e.ctx, p.ID, bad)
			wantField(t, err, field)
		}
		// Nothing of the rejected edits was kept.
		got, gotQs, _ := e.svc.Programs.Program(e.ctx, p.ID)
		if got.Name != "Monthly pulse" || len(gotQs) != 3 {
			t.Errorf("a rejected update changed the program: %+v, %d questions", got, len(gotQs))
		}
	})
	t.Run("not found", func(t *testing.T) {
		_, err := e.svc.Programs.UpdateProgram(e.ctx, 999999, validProgram(qs))
		wantIs(t, err, survey.ErrNotFound)
	})
}

func TestMinGroupSizeCannotBeLoweredAfterLaunch(t *testing.T) {
	e := newRoundEnv(t)
	e.people(e.root(), "staff", 12)
	p := e.program("Pulse") // k = 5
	in := func(k int) survey.ProgramInput {
		_, qs, err := e.svc.Programs.Program(e.ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		return survey.ProgramInput{Name: "Pulse", Cadence: survey.CadenceWeeks, IntervalWeeks: 2, Weekday: time.Monday,
			TimeOfDay: "09:00", OpenDays: 5, ItemsPerRound: 8, MinGroupSize: k, QuestionIDs: questionIDs(qs)}
	}
	floor := func() (int, bool) {
		f, launched, err := e.svc.Programs.MinGroupSizeFloor(e.ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		return f, launched
	}

	// Before any round: k may go down to 3, and back up.
	if f, launched := floor(); f != 3 || launched {
		t.Fatalf("floor before launch = %d, %v; want 3, false", f, launched)
	}
	for _, k := range []int{4, 3, 5} {
		if _, err := e.svc.Programs.UpdateProgram(e.ctx, p.ID, in(k)); err != nil {
			t.Fatalf("k=%d before launch: %v", k, err)
		}
	}
	_, err := e.svc.Programs.UpdateProgram(e.ctx, p.ID, in(2))
	wantField(t, err, "min_group_size")

	r := e.launch(p.ID)
	if f, launched := floor(); f != 5 || !launched {
		t.Fatalf("floor after launch = %d, %v; want 5, true", f, launched)
	}
	_, err = e.svc.Programs.UpdateProgram(e.ctx, p.ID, in(4))
	wantField(t, err, "min_group_size")
	if msg := err.(*survey.ValidationError).Fields["min_group_size"]; !strings.Contains(msg, "launched") || !strings.Contains(msg, "5") {
		t.Errorf("message %q does not explain the rule", msg)
	}
	// The same k with other changes is fine; raising is fine; then the new
	// k is the floor.
	same := in(5)
	same.OpenDays = 3
	if _, err := e.svc.Programs.UpdateProgram(e.ctx, p.ID, same); err != nil {
		t.Fatalf("same k: %v", err)
	}
	if _, err := e.svc.Programs.UpdateProgram(e.ctx, p.ID, in(7)); err != nil {
		t.Fatalf("raise k: %v", err)
	}
	_, err = e.svc.Programs.UpdateProgram(e.ctx, p.ID, in(6))
	wantField(t, err, "min_group_size")
	if got, _, _ := e.svc.Programs.Program(e.ctx, p.ID); got.MinGroupSize != 7 {
		t.Fatalf("k = %d after a rejected lowering, want 7", got.MinGroupSize)
	}

	// Closing the round changes nothing: it did launch.
	if err := e.svc.Rounds.Close(e.ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Programs.UpdateProgram(e.ctx, p.ID, in(5))
	wantField(t, err, "min_group_size")
}

func TestCreateQuestion(t *testing.T) {
	e, _ := newBankEnv(t)
	q1, err := e.svc.Programs.CreateQuestion(e.ctx, survey.QuestionInput{Dimension: survey.DimAutonomy, Facet: survey.FacetIdeas,
		Text: "  I can   try a new tool\nwithout asking first. "})
	if err != nil {
		t.Fatal(err)
	}
	if q1.Key != "custom.1" || q1.BuiltIn || q1.Core || q1.Text != "I can try a new tool without asking first." ||
		q1.Dimension != survey.DimAutonomy || q1.Facet != survey.FacetIdeas {
		t.Fatalf("custom question = %+v", q1)
	}
	q2, err := e.svc.Programs.CreateQuestion(e.ctx, survey.QuestionInput{Dimension: survey.DimPurpose, Facet: survey.FacetFit,
		Text: strings.Repeat("é", survey.MaxQuestionText)})
	if err != nil {
		t.Fatalf("300 characters (600 bytes): %v", err)
	}
	if q2.Key != "custom.2" {
		t.Errorf("second key %q, want custom.2", q2.Key)
	}

	for _, tc := range []struct {
		name  string
		in    survey.QuestionInput
		field string
	}{
		{"unknown dimension", survey.QuestionInput{Dimension: "happiness", Facet: survey.FacetIdeas, Text: "x"}, "dimension"},
		{"facet of another dimension", survey.QuestionInput{Dimension: survey.DimPurpose, Facet: survey.FacetIdeas, Text: "x"}, "facet"},
		{"no facet", survey.QuestionInput{Dimension: survey.DimPurpose, Text: "x"}, "facet"},
		{"blank text", survey.QuestionInput{Dimension: survey.DimPurpose, Facet: survey.FacetFit, Text: " \n "}, "text"},
		{"301 characters", survey.QuestionInput{Dimension: survey.DimPurpose, Facet: survey.FacetFit,
			Text: strings.Repeat("a", survey.MaxQuestionText+1)}, "text"},
		{"unknown program", survey.QuestionInput{Dimension: survey.DimPurpose, Facet: survey.FacetFit, Text: "Fresh text", ProgramID: 999999}, "program_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.svc.Programs.CreateQuestion(e.ctx, tc.in)
			wantField(t, err, tc.field)
		})
	}
	_, err = e.svc.Programs.CreateQuestion(e.ctx, survey.QuestionInput{Dimension: survey.DimMastery, Facet: survey.FacetGrowth,
		Text: "i can try a NEW tool without asking first."})
	wantIs(t, err, survey.ErrConflict)
	if n := e.countWhere("questions", "built_in = ?", false); n != 2 {
		t.Fatalf("%d custom questions after rejected ones, want 2", n)
	}
}

func TestCreateQuestionIntoProgram(t *testing.T) {
	e, qs := newBankEnv(t)
	p, err := e.svc.Programs.CreateProgram(e.ctx, validProgram(qs))
	if err != nil {
		t.Fatal(err)
	}
	q, err := e.svc.Programs.CreateQuestion(e.ctx, survey.QuestionInput{Dimension: survey.DimMastery, Facet: survey.FacetCoaching,
		Text: "My lead makes time to coach me.", ProgramID: p.ID})
	if err != nil {
		t.Fatal(err)
	}
	_, got, err := e.svc.Programs.Program(e.ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ids := questionIDs(got); !reflect.DeepEqual(ids, []uint{qs[0].ID, qs[1].ID, qs[2].ID, q.ID}) {
		t.Fatalf("selection %v: the custom item should come last", ids)
	}
}

func TestPreviewQuestionsMatchLaunch(t *testing.T) {
	e := newRoundEnv(t)
	e.people(e.root(), "staff", 6)
	p := e.program("Pulse") // the whole bank, 8 items per round
	for round := 1; round <= 3; round++ {
		number, preview, err := e.svc.Programs.PreviewQuestions(e.ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if number != round {
			t.Fatalf("preview is of round %d, want %d", number, round)
		}
		if len(preview) != 8 {
			t.Fatalf("preview has %d items, want 8", len(preview))
		}
		r := e.launch(p.ID)
		asked := e.roundQuestions(r.ID)
		if len(asked) != len(preview) {
			t.Fatalf("round %d asks %d items, preview showed %d", round, len(asked), len(preview))
		}
		for i := range asked {
			if asked[i].QuestionID != preview[i].ID || asked[i].Text != preview[i].Text {
				t.Fatalf("round %d item %d: asked %d %q, preview showed %d %q", round, i, asked[i].QuestionID, asked[i].Text,
					preview[i].ID, preview[i].Text)
			}
		}
		if err := e.svc.Rounds.Close(e.ctx, r.ID); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err := e.svc.Programs.PreviewQuestions(e.ctx, 999999)
	wantIs(t, err, survey.ErrNotFound)
}

func TestProgramWarnings(t *testing.T) {
	core := func(d string) survey.Question { return survey.Question{Dimension: d, Core: true} }
	item := func(d string) survey.Question { return survey.Question{Dimension: d} }
	tests := []struct {
		name  string
		items int
		qs    []survey.Question
		want  []string // substrings, one per warning, in order
	}{
		{"all core", 4, []survey.Question{core(survey.DimPurpose), item(survey.DimPurpose), core(survey.DimMastery), item(survey.DimMastery)}, nil},
		{"mastery without core", 3, []survey.Question{core(survey.DimPurpose), item(survey.DimMastery), item(survey.DimPurpose)}, []string{"Mastery has no core item"}},
		{"too many core", 3, []survey.Question{core(survey.DimPurpose), core(survey.DimMastery), core(survey.DimAutonomy), core(survey.DimEngagement)},
			[]string{"4 core items"}},
		{"fewer than a round", 5, []survey.Question{core(survey.DimPurpose), item(survey.DimPurpose)}, []string{"Only 2 items"}},
		{"empty", 5, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := survey.ProgramWarnings(tc.items, tc.qs)
			if len(got) != len(tc.want) {
				t.Fatalf("warnings %q, want %d", got, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("warning %q does not say %q", got[i], w)
				}
			}
		})
	}
}
