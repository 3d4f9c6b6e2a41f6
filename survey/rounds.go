package survey

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/pulse-survey/pulse/anonymity"
)

// RoundService launches and closes rounds, issues tokens and keeps the
// ballot box (docs/ANONYMITY.md sections 1 and 2).
type RoundService struct {
	db   *gorm.DB
	now  func() time.Time
	keys *Keyring
	// releaser writes a closed round's release (Close and Release).
	releaser Releaser
	// cache keeps public keys and questions of launched rounds for
	// submissions (its zero value is ready to use).
	cache submitCache
}

// InviteLink is one invitee's personal survey link secret.
type InviteLink struct {
	PersonID uint
	Email    string
	Name     string
	Secret   string
}

// planTeams is the live hierarchy as unit planning sees it: each team with
// its parent, its active people and whether it is archived (the root first).
func planTeams(tree *Tree, direct map[uint]int) []anonymity.Team {
	out := make([]anonymity.Team, 0, len(tree.Order))
	for _, n := range tree.Order {
		t := anonymity.Team{ID: n.ID, Direct: direct[n.ID], Archived: n.ArchivedAt != nil}
		if n != tree.Root {
			if n.ParentID == nil {
				continue // not below the root: outside the hierarchy
			}
			t.Parent = *n.ParentID
		}
		out = append(out, t)
	}
	return out
}

// pickQuestions chooses the items of round number of a program whose
// selection is qs (in program order). The rule, as the README states it:
//
//   - Every core item is asked every round, first, so trends stay comparable.
//   - The other slots (perRound minus the core items) go to rotating items,
//     dealt one slot at a time to the dimension that has the fewest items in
//     the round so far, core items included, among the dimensions that still
//     have a rotating item not yet in the round. Ties go to the dimension
//     that has drawn fewer rotating items in earlier rounds, then to ladder
//     order (purpose, mastery, autonomy, engagement).
//   - Within a dimension, items rotate in program order, each round starting
//     where the previous one stopped, so every selected item is asked over
//     successive rounds.
//
// So a round never draws more than its share from one dimension: with D
// dimensions selected, none gets more than ceil(perRound/D) items, unless
// the others have run out of items (or its core items alone are more). A
// selection of all 41 built-in items asks 2 items of each dimension in a
// round of 8, where program order alone drew 5 of 8 from Purpose.
//
// Rounds are not stored with their draw state: the counts of earlier rounds
// are replayed from round 1 with the current selection, as cheap as it is
// deterministic (Launch and PreviewQuestions agree by construction).
func pickQuestions(qs []Question, perRound, number int) []Question {
	var core []Question
	rot := map[string][]Question{}
	coreN := map[string]int{}
	var dims []string
	seen := map[string]bool{}
	for _, q := range qs {
		if !seen[q.Dimension] {
			seen[q.Dimension] = true
			dims = append(dims, q.Dimension)
		}
		if q.Core {
			core = append(core, q)
			coreN[q.Dimension]++
		} else {
			rot[q.Dimension] = append(rot[q.Dimension], q)
		}
	}
	rank := func(d string) int {
		for i, x := range dimensionOrder {
			if x == d {
				return i
			}
		}
		return len(dimensionOrder)
	}
	sort.SliceStable(dims, func(i, j int) bool { return rank(dims[i]) < rank(dims[j]) })
	slots := perRound - len(core)
	past := map[string]int{} // rotating items drawn by earlier rounds
	var take map[string]int
	for r := 1; r <= number; r++ {
		take = dealSlots(dims, coreN, rot, past, slots)
		if r < number {
			for d, n := range take {
				past[d] += n
			}
		}
	}
	out := append([]Question{}, core...)
	for _, d := range dims {
		for i := 0; i < take[d]; i++ {
			out = append(out, rot[d][(past[d]+i)%len(rot[d])])
		}
	}
	return out
}

// dealSlots shares one round's rotating slots among the dimensions (the
// rule of pickQuestions) and returns how many items each one draws.
func dealSlots(dims []string, coreN map[string]int, rot map[string][]Question, past map[string]int, slots int) map[string]int {
	take := map[string]int{}
	for k := 0; k < slots; k++ {
		best := -1
		for i, d := range dims { // ladder order: the first of equals wins
			if take[d] >= len(rot[d]) {
				continue
			}
			if best < 0 {
				best = i
				continue
			}
			b := dims[best]
			n, bn := coreN[d]+take[d], coreN[b]+take[b]
			if n < bn || n == bn && past[d]+take[d] < past[b]+take[b] {
				best = i
			}
		}
		if best < 0 {
			break
		}
		take[dims[best]]++
	}
	return take
}

// Launch opens a new round of a program: it snapshots the hierarchy,
// invitees and questions, generates one signing key per token unit and
// creates one invitation per active person. It also generates the round's
// box key pair, which the browser seals ballots to.
func (s *RoundService) Launch(ctx context.Context, programID uint) (*Round, error) {
	if s.keys == nil {
		return nil, errors.New("survey: launch: no keyring configured")
	}
	db := s.db.WithContext(ctx)
	var prog Program
	if err := db.First(&prog, programID).Error; err != nil {
		return nil, dbErr("launch", err)
	}
	var qs []Question
	if err := db.Joins("JOIN program_questions pq ON pq.question_id = questions.id").
		Where("pq.program_id = ?", programID).Order("pq.position").Find(&qs).Error; err != nil {
		return nil, dbErr("launch questions", err)
	}
	tree, err := loadTree(db)
	if err != nil {
		return nil, err
	}
	if tree.Root == nil {
		return nil, Conflict("the organisation has no teams yet")
	}
	var people []Person
	if err := db.Where("active = ?", true).Order("id").Find(&people).Error; err != nil {
		return nil, dbErr("launch people", err)
	}
	direct := map[uint]int{}
	for _, p := range people {
		if n := tree.ByID[p.TeamID]; n != nil && n.ArchivedAt == nil {
			direct[p.TeamID]++
		}
	}
	k := prog.MinGroupSize
	plan := anonymity.PlanUnits(planTeams(tree, direct), k)
	// Invitees are the active people of teams in the live tree (a team
	// under an archived parent is outside it).
	var invitees []Person
	for _, p := range people {
		if _, ok := plan.Unit[p.TeamID]; ok && tree.ByID[p.TeamID].ArchivedAt == nil {
			invitees = append(invitees, p)
		}
	}
	if len(invitees) < k {
		return nil, Conflict(fmt.Sprintf("only %d active people: a round needs at least the minimum group size (%d) of invitees", len(invitees), k))
	}
	var open int64
	if err := db.Model(&Round{}).Where("program_id = ? AND status = ?", programID, RoundOpen).Count(&open).Error; err != nil {
		return nil, dbErr("launch", err)
	}
	if open > 0 {
		return nil, Conflict("a round of this program is still open: close it first")
	}
	unitIDs := plan.Units
	keys, err := generateKeys(len(unitIDs))
	if err != nil {
		return nil, fmt.Errorf("survey: launch: keys: %w", err)
	}
	box, err := generateBoxKey()
	if err != nil {
		return nil, fmt.Errorf("survey: launch: box key: %w", err)
	}

	var round Round
	err = tx(ctx, s.db, func(tx *gorm.DB) error {
		// Serialise launches of one program (SQLite: the write lock at BEGIN).
		if tx.Dialector.Name() == "postgres" {
			if err := tx.Exec("SELECT id FROM programs WHERE id = ? FOR UPDATE", programID).Error; err != nil {
				return err
			}
		}
		// k was read before the lock: if an edit changed it meanwhile, the
		// units and keys were planned for another k, so start again.
		var current Program
		if err := tx.Select("min_group_size").First(&current, programID).Error; err != nil {
			return err
		}
		if current.MinGroupSize != k {
			return Conflict("the program's minimum group size changed while launching: launch again")
		}
		var open int64
		if err := tx.Model(&Round{}).Where("program_id = ? AND status = ?", programID, RoundOpen).Count(&open).Error; err != nil {
			return err
		}
		if open > 0 {
			return Conflict("a round of this program is still open: close it first")
		}
		var last struct{ N int }
		if err := tx.Model(&Round{}).Select("COALESCE(MAX(number), 0) AS n").Where("program_id = ?", programID).Scan(&last).Error; err != nil {
			return err
		}
		now := s.now()
		round = Round{ProgramID: programID, Number: last.N + 1, Status: RoundOpen, MinGroupSize: k, OpensAt: now,
			ClosesAt: now.Add(time.Duration(prog.OpenDays) * 24 * time.Hour), LaunchedAt: &now}
		if err := tx.Create(&round).Error; err != nil {
			return err
		}
		picked := pickQuestions(qs, prog.ItemsPerRound, round.Number)
		rqs := make([]RoundQuestion, len(picked))
		for i, q := range picked {
			rqs[i] = RoundQuestion{RoundID: round.ID, QuestionID: q.ID, Position: i, Dimension: q.Dimension, Facet: q.Facet, Text: q.Text, Core: q.Core}
		}
		if err := tx.CreateInBatches(rqs, 200).Error; err != nil {
			return err
		}
		var rts []RoundTeam
		for _, n := range tree.Order {
			unit, ok := plan.Unit[n.ID]
			if !ok {
				continue
			}
			rts = append(rts, RoundTeam{RoundID: round.ID, TeamID: n.ID, ParentTeamID: n.ParentID, Name: n.Name, UnitID: unit, Invited: direct[n.ID]})
		}
		if err := tx.CreateInBatches(rts, 500).Error; err != nil {
			return err
		}
		rks := make([]RoundKey, len(unitIDs))
		for i, u := range unitIDs {
			sealed, err := s.keys.seal(round.ID, u, keys[i].private)
			if err != nil {
				return err
			}
			rks[i] = RoundKey{RoundID: round.ID, UnitID: u, KeyID: keys[i].keyID, PublicKey: keys[i].spki, PrivateKey: sealed}
		}
		if err := tx.CreateInBatches(rks, 200).Error; err != nil {
			return err
		}
		sealedBox, err := s.keys.sealBoxSeed(round.ID, box.seed)
		if err != nil {
			return err
		}
		if err := tx.Create(&RoundBoxKey{RoundID: round.ID, PublicKey: box.public, PrivateKey: sealedBox}).Error; err != nil {
			return err
		}
		invs := make([]Invitation, len(invitees))
		for i, p := range invitees {
			invs[i] = Invitation{RoundID: round.ID, PersonID: p.ID, TeamID: p.TeamID, UnitID: plan.Unit[p.TeamID],
				SecretHash: hashToken(s.keys.linkSecret(round.ID, p.ID))}
		}
		return tx.CreateInBatches(invs, 500).Error
	})
	if err != nil {
		return nil, dbErr("launch", err)
	}
	return &round, nil
}

// generateKeys makes n RSA keys on all cores.
func generateKeys(n int) ([]*unitKey, error) {
	out := make([]*unitKey, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i], errs[i] = generateUnitKey()
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return out, errors.Join(errs...)
}

// Round returns one round.
func (s *RoundService) Round(ctx context.Context, id uint) (*Round, error) {
	var r Round
	if err := s.db.WithContext(ctx).First(&r, id).Error; err != nil {
		return nil, dbErr("round", err)
	}
	return &r, nil
}

// RoundSummary is a round with its participation counts.
type RoundSummary struct {
	Round
	ProgramName  string
	Invited      int
	TokensIssued int
}

// Rounds lists rounds, newest first, with invited and token counts.
func (s *RoundService) Rounds(ctx context.Context) ([]RoundSummary, error) {
	var out []RoundSummary
	err := s.db.WithContext(ctx).Table("rounds").
		Select("rounds.*, programs.name AS program_name, "+
			"(SELECT COUNT(*) FROM invitations i WHERE i.round_id = rounds.id) AS invited, "+
			"(SELECT COUNT(*) FROM invitations i WHERE i.round_id = rounds.id AND i.token_issued = ?) AS tokens_issued", true).
		Joins("JOIN programs ON programs.id = rounds.program_id").
		Order("rounds.id DESC").Scan(&out).Error
	if err != nil {
		return nil, dbErr("rounds", err)
	}
	return out, nil
}

// Links re-derives the personal links of an open round's invitees.
func (s *RoundService) Links(ctx context.Context, roundID uint) ([]InviteLink, error) {
	if s.keys == nil {
		return nil, errors.New("survey: links: no keyring configured")
	}
	r, err := s.Round(ctx, roundID)
	if err != nil {
		return nil, err
	}
	if r.Status != RoundOpen {
		return nil, fmt.Errorf("survey: links: %w", ErrRoundClosed)
	}
	var rows []struct {
		PersonID uint
		Email    string
		Name     string
	}
	err = s.db.WithContext(ctx).Table("invitations").Select("invitations.person_id, people.email, people.name").
		Joins("JOIN people ON people.id = invitations.person_id").Where("invitations.round_id = ?", roundID).
		Order("people.email").Scan(&rows).Error
	if err != nil {
		return nil, dbErr("links", err)
	}
	out := make([]InviteLink, len(rows))
	for i, r := range rows {
		out[i] = InviteLink{PersonID: r.PersonID, Email: r.Email, Name: r.Name, Secret: s.keys.linkSecret(roundID, r.PersonID)}
	}
	return out, nil
}

// lockRound takes a row lock on a round on PostgreSQL: shared for
// submissions, exclusive for close, so no ballot can slip into the box
// after close has emptied it. SQLite transactions are serialised anyway.
func lockRound(tx *gorm.DB, roundID uint, exclusive bool) (*Round, error) {
	q := tx
	if tx.Dialector.Name() == "postgres" {
		strength := clause.LockingStrengthShare
		if exclusive {
			strength = clause.LockingStrengthUpdate
		}
		q = q.Clauses(clause.Locking{Strength: strength})
	}
	var r Round
	if err := q.First(&r, roundID).Error; err != nil {
		return nil, err
	}
	return &r, nil
}
