package survey

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// ProgramService manages the question bank and pulse programs.
type ProgramService struct {
	db  *gorm.DB
	now func() time.Time
}

// SyncBuiltinQuestions adds built-in bank items missing from the database.
// Existing rows are left as they are: past rounds keep their own text.
func (s *ProgramService) SyncBuiltinQuestions(ctx context.Context) error {
	bank := BuiltinBank()
	qs := make([]Question, len(bank))
	for i, b := range bank {
		qs[i] = Question{Key: b.Key, Dimension: b.Dimension, Facet: b.Facet, Text: b.Text, Core: b.Core, BuiltIn: true}
	}
	err := s.db.WithContext(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "key"}}, DoNothing: true}).
		CreateInBatches(qs, 100).Error
	return dbErr("sync questions", err)
}

// Questions lists the bank in dimension and facet order.
func (s *ProgramService) Questions(ctx context.Context) ([]Question, error) {
	var qs []Question
	if err := s.db.WithContext(ctx).Order("id").Find(&qs).Error; err != nil {
		return nil, dbErr("questions", err)
	}
	return qs, nil
}

// ProgramInput creates or changes a program.
type ProgramInput struct {
	Name          string
	Cadence       string
	IntervalWeeks int
	Weekday       time.Weekday
	TimeOfDay     string // HH:MM in the organisation's time zone
	OpenDays      int
	ItemsPerRound int
	MinGroupSize  int
	QuestionIDs   []uint
}

func (in *ProgramInput) validate(tx *gorm.DB) error {
	v := validation{}
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || len(in.Name) > 200 {
		v.add("name", "enter a name of at most 200 characters")
	}
	switch in.Cadence {
	case CadenceWeekly:
		in.IntervalWeeks = 1
	case CadenceWeeks:
		if in.IntervalWeeks < 1 || in.IntervalWeeks > 52 {
			v.add("interval_weeks", "choose every 1 to 52 weeks")
		}
	case CadenceMonthly:
		in.IntervalWeeks = 0
	default:
		v.add("cadence", "choose weekly, every N weeks or monthly")
	}
	if in.Weekday < time.Sunday || in.Weekday > time.Saturday {
		v.add("weekday", "choose a weekday")
	}
	if _, err := time.Parse("15:04", in.TimeOfDay); err != nil || len(in.TimeOfDay) != 5 {
		v.add("time_of_day", "use a 24-hour time such as 09:00")
	}
	if in.OpenDays < 1 || in.OpenDays > 28 {
		v.add("open_days", "keep a round open for 1 to 28 days")
	}
	if in.ItemsPerRound < 3 || in.ItemsPerRound > 20 {
		v.add("items_per_round", "ask 3 to 20 items per round")
	}
	if in.MinGroupSize < MinMinGroupSize || in.MinGroupSize > 100 {
		v.add("min_group_size", fmt.Sprintf("the minimum group size must be between %d and 100", MinMinGroupSize))
	}
	if len(in.QuestionIDs) == 0 {
		v.add("question_ids", "choose at least one question")
	} else {
		var n int64
		if err := tx.Model(&Question{}).Where("id IN ?", in.QuestionIDs).Count(&n).Error; err != nil {
			return err
		}
		if int(n) != len(uniqueIDs(in.QuestionIDs)) {
			v.add("question_ids", "choose questions from the bank")
		}
	}
	return v.err()
}

func uniqueIDs(ids []uint) []uint {
	seen := map[uint]bool{}
	var out []uint
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// CreateProgram creates an active program.
func (s *ProgramService) CreateProgram(ctx context.Context, in ProgramInput) (*Program, error) {
	var p Program
	err := tx(ctx, s.db, func(tx *gorm.DB) error {
		if err := in.validate(tx); err != nil {
			return err
		}
		p = Program{Name: in.Name, Cadence: in.Cadence, IntervalWeeks: in.IntervalWeeks, Weekday: int(in.Weekday),
			TimeOfDay: in.TimeOfDay, OpenDays: in.OpenDays, ItemsPerRound: in.ItemsPerRound,
			MinGroupSize: in.MinGroupSize, Active: true}
		if err := tx.Create(&p).Error; err != nil {
			return err
		}
		for i, id := range uniqueIDs(in.QuestionIDs) {
			if err := tx.Create(&ProgramQuestion{ProgramID: p.ID, QuestionID: id, Position: i}).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, dbErr("create program", err)
	}
	return &p, nil
}

// Programs lists all programs.
func (s *ProgramService) Programs(ctx context.Context) ([]Program, error) {
	var ps []Program
	if err := s.db.WithContext(ctx).Order("id").Find(&ps).Error; err != nil {
		return nil, dbErr("programs", err)
	}
	return ps, nil
}

// Program returns one program with its selected questions in order.
func (s *ProgramService) Program(ctx context.Context, id uint) (*Program, []Question, error) {
	var p Program
	if err := s.db.WithContext(ctx).First(&p, id).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, nil, fmt.Errorf("survey: program %d: %w", id, ErrNotFound)
		}
		return nil, nil, dbErr("program", err)
	}
	var qs []Question
	err := s.db.WithContext(ctx).Joins("JOIN program_questions pq ON pq.question_id = questions.id").
		Where("pq.program_id = ?", id).Order("pq.position").Find(&qs).Error
	if err != nil {
		return nil, nil, dbErr("program questions", err)
	}
	return &p, qs, nil
}
