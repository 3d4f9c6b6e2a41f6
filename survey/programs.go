package survey

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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
	// Paused stops a program from being scheduled; the zero value is an
	// active program, so CreateProgram's callers need not set it.
	Paused bool
}

// validate checks the input; self is the program being changed (0 for a
// new one), which may keep its own name.
func (in *ProgramInput) validate(tx *gorm.DB, self uint) error {
	v := validation{}
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || len(in.Name) > 200 {
		v.add("name", "enter a name of at most 200 characters")
	} else if taken, err := programNameTaken(tx, in.Name, self); err != nil {
		return err
	} else if taken {
		v.add("name", duplicateNameMsg(in.Name))
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

// programNameTaken reports whether another program than self has name,
// compared case-insensitively as the unique index idx_programs_name_lower
// compares them (LOWER folds ASCII letters only on SQLite; every letter
// with a lower case on PostgreSQL).
func programNameTaken(tx *gorm.DB, name string, self uint) (bool, error) {
	var n int64
	err := tx.Model(&Program{}).Where("LOWER(name) = LOWER(?) AND id <> ?", name, self).Count(&n).Error
	return n > 0, err
}

func duplicateNameMsg(name string) string {
	return fmt.Sprintf("another program is already called %q: choose another name", name)
}

// nameClash turns the unique index refusing a name (two admins saving the
// same name at once, past the check in validate) into the same field error.
func nameClash(err error, name string) error {
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return &ValidationError{Fields: map[string]string{"name": duplicateNameMsg(name)}}
	}
	return err
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

// CreateProgram creates a program, active unless in.Paused. Its name must
// differ from every other program's, ignoring case and surrounding spaces.
// NewProgramDefaults is where a new program's form starts.
func (s *ProgramService) CreateProgram(ctx context.Context, in ProgramInput) (*Program, error) {
	var p Program
	err := tx(ctx, s.db, func(tx *gorm.DB) error {
		if err := in.validate(tx, 0); err != nil {
			return err
		}
		p = Program{Name: in.Name, Cadence: in.Cadence, IntervalWeeks: in.IntervalWeeks, Weekday: int(in.Weekday),
			TimeOfDay: in.TimeOfDay, OpenDays: in.OpenDays, ItemsPerRound: in.ItemsPerRound,
			MinGroupSize: in.MinGroupSize, Active: !in.Paused}
		if err := tx.Create(&p).Error; err != nil {
			return nameClash(err, in.Name)
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

// lockProgram takes the program's row lock on PostgreSQL, the lock Launch
// takes, so an edit and a launch of one program do not interleave (SQLite
// transactions hold the write lock from BEGIN anyway).
func lockProgram(tx *gorm.DB, id uint) (*Program, error) {
	q := tx
	if tx.Dialector.Name() == "postgres" {
		q = q.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate})
	}
	var p Program
	if err := q.First(&p, id).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, fmt.Errorf("survey: program %d: %w", id, ErrNotFound)
		}
		return nil, err
	}
	return &p, nil
}

// minGroupSizeFloor is the lowest k a program may be given: the floor of 3
// until one of its rounds has launched, then the highest k it has run with
// (its current k or a launched round's), so that k is never lowered.
func minGroupSizeFloor(tx *gorm.DB, p *Program) (floor int, launched bool, err error) {
	var row struct {
		N int
		K int
	}
	if err := tx.Model(&Round{}).Select("COUNT(*) AS n, COALESCE(MAX(min_group_size), 0) AS k").
		Where("program_id = ? AND launched_at IS NOT NULL", p.ID).Scan(&row).Error; err != nil {
		return 0, false, err
	}
	if row.N == 0 {
		return MinMinGroupSize, false, nil
	}
	return max(p.MinGroupSize, row.K, MinMinGroupSize), true, nil
}

// MinGroupSizeFloor returns the lowest minimum group size the program may
// be given now, and whether a round of it has launched.
func (s *ProgramService) MinGroupSizeFloor(ctx context.Context, programID uint) (int, bool, error) {
	db := s.db.WithContext(ctx)
	var p Program
	if err := db.First(&p, programID).Error; err != nil {
		return 0, false, dbErr("min group size floor", err)
	}
	floor, launched, err := minGroupSizeFloor(db, &p)
	if err != nil {
		return 0, false, dbErr("min group size floor", err)
	}
	return floor, launched, nil
}

// UpdateProgram changes a program and replaces its question selection (in
// the order given). Rounds already launched keep their own snapshot. The
// minimum group size can be raised at any time but not lowered once a
// round of the program has launched: reports across rounds would otherwise
// cover smaller groups than the ones employees were promised.
func (s *ProgramService) UpdateProgram(ctx context.Context, id uint, in ProgramInput) (*Program, error) {
	var p *Program
	err := tx(ctx, s.db, func(tx *gorm.DB) error {
		var err error
		if p, err = lockProgram(tx, id); err != nil {
			return err
		}
		verr := in.validate(tx, id)
		var ve *ValidationError
		if verr != nil && !errors.As(verr, &ve) {
			return verr
		}
		floor, launched, err := minGroupSizeFloor(tx, p)
		if err != nil {
			return err
		}
		if launched && in.MinGroupSize < floor {
			if ve == nil {
				ve = &ValidationError{Fields: map[string]string{}}
			}
			ve.Fields["min_group_size"] = fmt.Sprintf("a round of this program has already launched with a minimum group size of %d: "+
				"it can be raised but not lowered, or groups smaller than employees were promised would be reported", floor)
		}
		if ve != nil {
			return ve
		}
		p.Name, p.Cadence, p.IntervalWeeks, p.Weekday = in.Name, in.Cadence, in.IntervalWeeks, int(in.Weekday)
		p.TimeOfDay, p.OpenDays, p.ItemsPerRound, p.MinGroupSize = in.TimeOfDay, in.OpenDays, in.ItemsPerRound, in.MinGroupSize
		p.Active = !in.Paused
		if err := tx.Save(p).Error; err != nil {
			return nameClash(err, in.Name)
		}
		if err := tx.Where("program_id = ?", id).Delete(&ProgramQuestion{}).Error; err != nil {
			return err
		}
		for i, qid := range uniqueIDs(in.QuestionIDs) {
			if err := tx.Create(&ProgramQuestion{ProgramID: id, QuestionID: qid, Position: i}).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, dbErr("update program", err)
	}
	return p, nil
}

// MaxQuestionText is the longest statement (in characters) a question may have.
const MaxQuestionText = 300

// CustomKeyPrefix starts the keys of custom (non built-in) questions.
const CustomKeyPrefix = "custom."

// QuestionInput creates a custom question.
type QuestionInput struct {
	Dimension string
	Facet     string
	Text      string
	// ProgramID, when not zero, also adds the question at the end of that
	// program's selection.
	ProgramID uint
}

func (in *QuestionInput) validate() error {
	v := validation{}
	in.Text = strings.Join(strings.Fields(in.Text), " ")
	switch {
	case !ValidDimension(in.Dimension):
		v.add("dimension", "choose purpose, mastery, autonomy or engagement")
	case !ValidFacet(in.Dimension, in.Facet):
		v.add("facet", fmt.Sprintf("choose one of the facets of %s", DimensionLabel(in.Dimension)))
	}
	switch n := utf8.RuneCountInString(in.Text); {
	case n == 0:
		v.add("text", "write the statement employees rate from 1 to 5")
	case n > MaxQuestionText:
		v.add("text", fmt.Sprintf("use at most %d characters (this has %d)", MaxQuestionText, n))
	case !utf8.ValidString(in.Text):
		v.add("text", "the text is not valid UTF-8")
	}
	return v.err()
}

// CreateQuestion adds a custom item to the bank, keyed "custom.<n>". It is
// never a core item: core items are the bank's trend anchors, one per
// dimension. The same statement twice is ErrConflict.
func (s *ProgramService) CreateQuestion(ctx context.Context, in QuestionInput) (*Question, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	var q Question
	var err error
	// Two admins adding items at once on PostgreSQL may pick the same next
	// key; the unique index refuses one of them, which then tries again.
	for attempt := 0; attempt < 5; attempt++ {
		err = tx(ctx, s.db, func(tx *gorm.DB) error { return s.createQuestion(tx, in, &q) })
		if !errors.Is(err, gorm.ErrDuplicatedKey) {
			break
		}
	}
	if err != nil {
		return nil, dbErr("create question", err)
	}
	return &q, nil
}

func (s *ProgramService) createQuestion(tx *gorm.DB, in QuestionInput, q *Question) error {
	var n int64
	if err := tx.Model(&Question{}).Where("LOWER(questions.text) = LOWER(?)", in.Text).Count(&n).Error; err != nil {
		return err
	}
	if n > 0 {
		return Conflict("the question bank already has this statement")
	}
	if in.ProgramID != 0 {
		if _, err := lockProgram(tx, in.ProgramID); err != nil {
			if errors.Is(err, ErrNotFound) {
				return &ValidationError{Fields: map[string]string{"program_id": "the program does not exist"}}
			}
			return err
		}
	}
	var keys []string
	if err := tx.Model(&Question{}).Where(clause.Like{Column: clause.Column{Table: clause.CurrentTable, Name: "key"}, Value: CustomKeyPrefix + "%"}).Pluck("key", &keys).Error; err != nil {
		return err
	}
	next := 1
	for _, k := range keys {
		if i, err := strconv.Atoi(strings.TrimPrefix(k, CustomKeyPrefix)); err == nil && i >= next {
			next = i + 1
		}
	}
	*q = Question{Key: CustomKeyPrefix + strconv.Itoa(next), Dimension: in.Dimension, Facet: in.Facet, Text: in.Text,
		CreatedAt: s.now()}
	if err := tx.Create(q).Error; err != nil {
		return err
	}
	if in.ProgramID == 0 {
		return nil
	}
	var last struct{ N int }
	if err := tx.Model(&ProgramQuestion{}).Select("COALESCE(MAX(position), -1) AS n").
		Where("program_id = ?", in.ProgramID).Scan(&last).Error; err != nil {
		return err
	}
	return tx.Create(&ProgramQuestion{ProgramID: in.ProgramID, QuestionID: q.ID, Position: last.N + 1}).Error
}

// PreviewQuestions returns the number of the program's next round and the
// items that round would ask, chosen exactly as Launch chooses them.
func (s *ProgramService) PreviewQuestions(ctx context.Context, programID uint) (int, []Question, error) {
	p, qs, err := s.Program(ctx, programID)
	if err != nil {
		return 0, nil, err
	}
	var last struct{ N int }
	if err := s.db.WithContext(ctx).Model(&Round{}).Select("COALESCE(MAX(number), 0) AS n").
		Where("program_id = ?", programID).Scan(&last).Error; err != nil {
		return 0, nil, dbErr("preview", err)
	}
	number := last.N + 1
	if len(qs) == 0 {
		return number, nil, nil
	}
	return number, pickQuestions(qs, p.ItemsPerRound, number), nil
}

// ProgramWarnings lists what is allowed but probably unintended about a
// program's selection: a dimension asked without its core item (its trend
// is not comparable between rounds), more core items than items per round
// (every core item is asked every round), or fewer items than a round asks.
func ProgramWarnings(itemsPerRound int, qs []Question) []string {
	var out []string
	covered, core := map[string]bool{}, map[string]int{}
	cores := 0
	for _, q := range qs {
		covered[q.Dimension] = true
		if q.Core {
			core[q.Dimension]++
			cores++
		}
	}
	for _, d := range dimensionOrder {
		if covered[d] && core[d] == 0 {
			out = append(out, fmt.Sprintf("%s has no core item: rounds will ask different %s items, so its trend is not comparable from round to round.",
				DimensionLabel(d), strings.ToLower(DimensionLabel(d))))
		}
	}
	if cores > itemsPerRound {
		out = append(out, fmt.Sprintf("%d core items are selected and every one is asked each round, more than the %d items per round.", cores, itemsPerRound))
	}
	if len(qs) > 0 && len(qs) < itemsPerRound {
		out = append(out, fmt.Sprintf("Only %d items are selected, fewer than the %d items per round: every round asks all of them.", len(qs), itemsPerRound))
	}
	return out
}

// DeleteProgram deletes a program that has never had a round, with its
// selection and its scheduler jobs. A program with rounds is kept (its
// rounds and reports refer to it): ErrConflict says to pause it instead.
// It returns the deleted program.
func (s *ProgramService) DeleteProgram(ctx context.Context, id uint) (*Program, error) {
	var p *Program
	err := tx(ctx, s.db, func(tx *gorm.DB) error {
		var err error
		// The lock Launch takes: a launch cannot slip in between the
		// count below and the delete.
		if p, err = lockProgram(tx, id); err != nil {
			return err
		}
		var n int64
		if err := tx.Model(&Round{}).Where("program_id = ?", id).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return Conflict(fmt.Sprintf("“%s” has run %d %s and its reports refer to it, so it cannot be deleted: pause it instead "+
				"(set it inactive), and no further round launches", p.Name, n, plural(int(n), "round", "rounds")))
		}
		if err := tx.Where("program_id = ?", id).Delete(&ProgramQuestion{}).Error; err != nil {
			return err
		}
		// Queued (or done) launches of this program go too, so that no job
		// outlives it or stands for another program given the same id.
		if err := tx.Where("key LIKE ?", fmt.Sprintf("launch:program:%d:%%", id)).Delete(&Job{}).Error; err != nil {
			return err
		}
		return tx.Delete(&Program{}, id).Error
	})
	if err != nil {
		return nil, dbErr("delete program", err)
	}
	return p, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Defaults of a new program (see NewProgramDefaults).
const (
	DefaultIntervalWeeks = 2
	DefaultOpenDays      = 5
	DefaultItemsPerRound = 8
	DefaultTimeOfDay     = "09:00"
)

// NewProgramDefaults is what a new program starts from, on the page and in
// the JSON API alike: every other week on Monday at 09:00, open for five
// days, 8 items per round, the organisation's minimum group size, the
// balanced selection of DefaultSelection, and paused. Paused, because the
// schedule would otherwise launch a round at the next occurrence without
// anyone having confirmed the program: an admin activates it (or launches
// a round by hand) once the selection and dates are right.
func (s *ProgramService) NewProgramDefaults(ctx context.Context) (ProgramInput, error) {
	in := ProgramInput{Cadence: CadenceWeeks, IntervalWeeks: DefaultIntervalWeeks, Weekday: time.Monday,
		TimeOfDay: DefaultTimeOfDay, OpenDays: DefaultOpenDays, ItemsPerRound: DefaultItemsPerRound,
		MinGroupSize: DefaultMinGroupSize, Paused: true}
	var st Settings
	switch err := s.db.WithContext(ctx).First(&st, 1).Error; {
	case err == nil:
		in.MinGroupSize = st.MinGroupSize
	case !errors.Is(err, gorm.ErrRecordNotFound):
		return in, dbErr("program defaults", err)
	}
	qs, err := s.Questions(ctx)
	if err != nil {
		return in, err
	}
	in.QuestionIDs = DefaultSelection(qs)
	return in, nil
}

// DefaultSelection picks a balanced starting selection from the bank's
// built-in items: for every dimension its core item (asked every round,
// the trend anchor) and one item of each of its other facets (rotating),
// in ladder and facet order. Every facet of the model is covered once, and
// no dimension outweighs another in a round (see pickQuestions).
func DefaultSelection(bank []Question) []uint {
	var out []uint
	for _, d := range dimensionOrder {
		var core *Question
		first := map[string]*Question{}
		for i := range bank {
			q := &bank[i]
			if !q.BuiltIn || q.Dimension != d {
				continue
			}
			if q.Core {
				if core == nil {
					core = q
				}
			} else if first[q.Facet] == nil {
				first[q.Facet] = q
			}
		}
		if core != nil {
			out = append(out, core.ID)
		}
		for _, f := range dimensionFacets[d] {
			if q := first[f]; q != nil && (core == nil || core.Facet != f) {
				out = append(out, q.ID)
			}
		}
	}
	return out
}
