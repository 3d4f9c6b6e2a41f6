package survey

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"
)

// OrgService manages the organisation settings, the team tree and people.
type OrgService struct {
	db  *gorm.DB
	now func() time.Time
}

// SettingsInput is a change to the organisation settings.
type SettingsInput struct {
	Name         string
	TimeZone     string
	MinGroupSize int
}

func (in *SettingsInput) validate() error {
	v := validation{}
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" {
		v.add("name", "enter the organisation's name")
	} else if len(in.Name) > 200 {
		v.add("name", "use at most 200 characters")
	}
	if in.TimeZone == "" {
		v.add("time_zone", "choose a time zone, e.g. Europe/Berlin")
	} else if _, err := time.LoadLocation(in.TimeZone); err != nil || in.TimeZone == "Local" {
		v.add("time_zone", fmt.Sprintf("%q is not a known time zone (use an IANA name such as Europe/Berlin)", in.TimeZone))
	}
	if in.MinGroupSize < MinMinGroupSize {
		v.add("min_group_size", fmt.Sprintf("the minimum group size cannot be below %d", MinMinGroupSize))
	} else if in.MinGroupSize > 100 {
		v.add("min_group_size", "the minimum group size cannot exceed 100")
	}
	return v.err()
}

// Initialized reports whether the organisation exists yet.
func (s *OrgService) Initialized(ctx context.Context) (bool, error) {
	var n int64
	if err := s.db.WithContext(ctx).Model(&Settings{}).Count(&n).Error; err != nil {
		return false, dbErr("initialized", err)
	}
	return n > 0, nil
}

// Init creates the organisation settings and the root team (the company).
// It fails with ErrConflict when the organisation already exists.
func (s *OrgService) Init(ctx context.Context, in SettingsInput) (*Settings, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	if err := tx(ctx, s.db, func(tx *gorm.DB) error { return initOrg(tx, in) }); err != nil {
		return nil, dbErr("init org", err)
	}
	return s.Settings(ctx)
}

func initOrg(tx *gorm.DB, in SettingsInput) error {
	st := &Settings{ID: 1, Name: in.Name, TimeZone: in.TimeZone, MinGroupSize: in.MinGroupSize}
	if err := tx.Create(st).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return Conflict("the organisation is already set up")
		}
		return err
	}
	return tx.Create(&Team{Name: in.Name}).Error
}

// Settings returns the organisation settings.
func (s *OrgService) Settings(ctx context.Context) (*Settings, error) {
	var st Settings
	if err := s.db.WithContext(ctx).First(&st, 1).Error; err != nil {
		return nil, dbErr("settings", err)
	}
	return &st, nil
}

// UpdateSettings changes name, time zone and k (never below 3).
func (s *OrgService) UpdateSettings(ctx context.Context, in SettingsInput) (*Settings, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	var st Settings
	err := tx(ctx, s.db, func(tx *gorm.DB) error {
		if err := tx.First(&st, 1).Error; err != nil {
			return err
		}
		st.Name, st.TimeZone, st.MinGroupSize = in.Name, in.TimeZone, in.MinGroupSize
		return tx.Save(&st).Error
	})
	if err != nil {
		return nil, dbErr("update settings", err)
	}
	return &st, nil
}

// TeamNode is a team with its children, for display and scope checks.
type TeamNode struct {
	Team
	Depth    int
	Path     string // names from below the root, joined with "/"
	People   int    // active people directly in this team
	Children []*TeamNode
}

// Tree is the whole team hierarchy, archived teams included.
type Tree struct {
	Root  *TeamNode
	ByID  map[uint]*TeamNode
	Order []*TeamNode // pre-order
}

// Subtree returns the ids of id and all its descendants.
func (t *Tree) Subtree(id uint) []uint {
	n, ok := t.ByID[id]
	if !ok {
		return nil
	}
	var out []uint
	var walk func(*TeamNode)
	walk = func(n *TeamNode) {
		out = append(out, n.ID)
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(n)
	return out
}

// IsAncestor reports whether a is b or one of b's ancestors.
func (t *Tree) IsAncestor(a, b uint) bool {
	// Bounded by the number of teams, so a corrupt tree cannot loop forever.
	for n, steps := t.ByID[b], 0; n != nil && steps <= len(t.ByID); steps++ {
		if n.ID == a {
			return true
		}
		if n.ParentID == nil {
			return false
		}
		n = t.ByID[*n.ParentID]
	}
	return false
}

// Tree loads the team hierarchy with direct active head counts.
func (s *OrgService) Tree(ctx context.Context) (*Tree, error) {
	return loadTree(s.db.WithContext(ctx))
}

func loadTree(db *gorm.DB) (*Tree, error) {
	var teams []Team
	if err := db.Order("id").Find(&teams).Error; err != nil {
		return nil, dbErr("tree", err)
	}
	type count struct {
		TeamID uint
		N      int
	}
	var counts []count
	if err := db.Model(&Person{}).Select("team_id, count(*) AS n").Where("active = ?", true).
		Group("team_id").Scan(&counts).Error; err != nil {
		return nil, dbErr("tree counts", err)
	}
	t := &Tree{ByID: make(map[uint]*TeamNode, len(teams))}
	for i := range teams {
		t.ByID[teams[i].ID] = &TeamNode{Team: teams[i]}
	}
	for _, c := range counts {
		if n := t.ByID[c.TeamID]; n != nil {
			n.People = c.N
		}
	}
	for _, n := range t.ByID {
		if n.ParentID == nil {
			if t.Root == nil || n.ID < t.Root.ID {
				t.Root = n
			}
			continue
		}
		if p := t.ByID[*n.ParentID]; p != nil {
			p.Children = append(p.Children, n)
		}
	}
	var walk func(n *TeamNode, depth int, path string)
	walk = func(n *TeamNode, depth int, path string) {
		n.Depth, n.Path = depth, path
		t.Order = append(t.Order, n)
		sort.Slice(n.Children, func(i, j int) bool {
			return strings.ToLower(n.Children[i].Name) < strings.ToLower(n.Children[j].Name)
		})
		for _, c := range n.Children {
			p := c.Name
			if path != "" {
				p = path + "/" + c.Name
			}
			walk(c, depth+1, p)
		}
	}
	if t.Root != nil {
		walk(t.Root, 0, "")
	}
	return t, nil
}

func validTeamName(name string) (string, error) {
	name = strings.TrimSpace(name)
	v := validation{}
	switch {
	case name == "":
		v.add("name", "enter a team name")
	case len(name) > 200:
		v.add("name", "use at most 200 characters")
	case strings.Contains(name, "/"):
		v.add("name", "a team name cannot contain '/' (it separates levels in team paths)")
	}
	return name, v.err()
}

// siblingClash reports whether an active sibling under parent already has name.
func siblingClash(tx *gorm.DB, parentID uint, name string, except uint) error {
	var n int64
	err := tx.Model(&Team{}).Where("parent_id = ? AND LOWER(name) = LOWER(?) AND archived_at IS NULL AND id <> ?",
		parentID, name, except).Count(&n).Error
	if err != nil {
		return err
	}
	if n > 0 {
		return Conflict(fmt.Sprintf("a team named %q already exists there", name))
	}
	return nil
}

// CreateTeam adds a team under parentID.
func (s *OrgService) CreateTeam(ctx context.Context, parentID uint, name string) (*Team, error) {
	name, err := validTeamName(name)
	if err != nil {
		return nil, err
	}
	t := &Team{ParentID: &parentID, Name: name}
	err = tx(ctx, s.db, func(tx *gorm.DB) error {
		if err := lockOrg(tx); err != nil {
			return err
		}
		var parent Team
		if err := tx.First(&parent, parentID).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return &ValidationError{Fields: map[string]string{"parent_id": "the parent team does not exist"}}
			}
			return err
		}
		if parent.ArchivedAt != nil {
			return Conflict("the parent team is archived")
		}
		if err := siblingClash(tx, parentID, name, 0); err != nil {
			return err
		}
		return tx.Create(t).Error
	})
	if err != nil {
		return nil, dbErr("create team", err)
	}
	return t, nil
}

// RenameTeam renames a team (the root too: it carries the company name).
func (s *OrgService) RenameTeam(ctx context.Context, id uint, name string) (*Team, error) {
	name, err := validTeamName(name)
	if err != nil {
		return nil, err
	}
	var t Team
	err = tx(ctx, s.db, func(tx *gorm.DB) error {
		if err := lockOrg(tx); err != nil {
			return err
		}
		if err := tx.First(&t, id).Error; err != nil {
			return err
		}
		if t.ParentID != nil {
			if err := siblingClash(tx, *t.ParentID, name, t.ID); err != nil {
				return err
			}
		}
		t.Name = name
		return tx.Save(&t).Error
	})
	if err != nil {
		return nil, dbErr("rename team", err)
	}
	return &t, nil
}

// MoveTeam gives a team a new parent. Moving the root, or moving a team
// under itself or one of its descendants, is rejected.
func (s *OrgService) MoveTeam(ctx context.Context, id, newParentID uint) (*Team, error) {
	var t Team
	err := tx(ctx, s.db, func(tx *gorm.DB) error {
		if err := lockOrg(tx); err != nil {
			return err
		}
		tree, err := loadTree(tx)
		if err != nil {
			return err
		}
		node, ok := tree.ByID[id]
		if !ok {
			return ErrNotFound
		}
		parent, ok := tree.ByID[newParentID]
		if !ok {
			return &ValidationError{Fields: map[string]string{"parent_id": "the new parent team does not exist"}}
		}
		switch {
		case node.ParentID == nil:
			return Conflict("the company (root team) cannot be moved")
		case tree.IsAncestor(id, newParentID):
			return Conflict("a team cannot be moved under itself or one of its own sub-teams")
		case parent.ArchivedAt != nil:
			return Conflict("the new parent team is archived")
		}
		if err := siblingClash(tx, newParentID, node.Name, id); err != nil {
			return err
		}
		t = node.Team
		t.ParentID = &newParentID
		return tx.Model(&Team{}).Where("id = ?", id).Updates(map[string]any{"parent_id": newParentID, "updated_at": s.now()}).Error
	})
	if err != nil {
		return nil, dbErr("move team", err)
	}
	return &t, nil
}

// ArchiveTeam archives a team that has no active people and no active
// sub-teams. Archived teams stay in past rounds' snapshots.
func (s *OrgService) ArchiveTeam(ctx context.Context, id uint) error {
	err := tx(ctx, s.db, func(tx *gorm.DB) error {
		if err := lockOrg(tx); err != nil {
			return err
		}
		var t Team
		if err := tx.First(&t, id).Error; err != nil {
			return err
		}
		if t.ParentID == nil {
			return Conflict("the company (root team) cannot be archived")
		}
		if t.ArchivedAt != nil {
			return nil
		}
		var n int64
		if err := tx.Model(&Team{}).Where("parent_id = ? AND archived_at IS NULL", id).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return Conflict("archive or move the team's sub-teams first")
		}
		if err := tx.Model(&Person{}).Where("team_id = ? AND active = ?", id, true).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return Conflict(fmt.Sprintf("the team still has %d active people: move or deactivate them first", n))
		}
		now := s.now()
		return tx.Model(&Team{}).Where("id = ?", id).Updates(map[string]any{"archived_at": now, "updated_at": now}).Error
	})
	return dbErr("archive team", err)
}

// PersonInput creates or changes a person.
type PersonInput struct {
	Email  string
	Name   string
	TeamID uint
	Active bool
}

// NormalizeEmail trims and lower-cases an address and checks its form.
func NormalizeEmail(s string) (string, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || len(s) > 320 || !strings.Contains(s[strings.LastIndex(s, "@")+1:], ".") {
		return s, false
	}
	return s, true
}

func (in *PersonInput) validate(tx *gorm.DB) error {
	v := validation{}
	var ok bool
	if in.Email, ok = NormalizeEmail(in.Email); !ok {
		v.add("email", "enter a valid email address")
	}
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" {
		v.add("name", "enter the person's name")
	} else if len(in.Name) > 200 {
		v.add("name", "use at most 200 characters")
	}
	var t Team
	if err := tx.First(&t, in.TeamID).Error; err != nil {
		if !errors.Is(err, gorm.ErrRecordNotFound) {
			return err
		}
		v.add("team_id", "choose an existing team")
	} else if t.ArchivedAt != nil {
		v.add("team_id", "the team is archived")
	}
	return v.err()
}

// CreatePerson adds a person. A duplicate email is ErrConflict.
func (s *OrgService) CreatePerson(ctx context.Context, in PersonInput) (*Person, error) {
	var p Person
	err := tx(ctx, s.db, func(tx *gorm.DB) error {
		if err := lockOrg(tx); err != nil {
			return err
		}
		if err := in.validate(tx); err != nil {
			return err
		}
		p = Person{Email: in.Email, Name: in.Name, TeamID: in.TeamID, Active: in.Active}
		if err := tx.Create(&p).Error; err != nil {
			if errors.Is(err, gorm.ErrDuplicatedKey) {
				return Conflict(fmt.Sprintf("someone with the email %s already exists", in.Email))
			}
			return err
		}
		return nil
	})
	if err != nil {
		return nil, dbErr("create person", err)
	}
	return &p, nil
}

// UpdatePerson changes a person's email, name, team and active flag.
func (s *OrgService) UpdatePerson(ctx context.Context, id uint, in PersonInput) (*Person, error) {
	var p Person
	err := tx(ctx, s.db, func(tx *gorm.DB) error {
		if err := lockOrg(tx); err != nil {
			return err
		}
		if err := tx.First(&p, id).Error; err != nil {
			return err
		}
		if err := in.validate(tx); err != nil {
			return err
		}
		p.Email, p.Name, p.TeamID, p.Active = in.Email, in.Name, in.TeamID, in.Active
		if err := tx.Save(&p).Error; err != nil {
			if errors.Is(err, gorm.ErrDuplicatedKey) {
				return Conflict(fmt.Sprintf("someone with the email %s already exists", in.Email))
			}
			return err
		}
		return nil
	})
	if err != nil {
		return nil, dbErr("update person", err)
	}
	return &p, nil
}

// People lists people of the given teams (all teams when teamIDs is nil).
func (s *OrgService) People(ctx context.Context, teamIDs []uint, activeOnly bool) ([]Person, error) {
	q := s.db.WithContext(ctx).Order("name, id")
	if teamIDs != nil {
		q = q.Where("team_id IN ?", teamIDs)
	}
	if activeOnly {
		q = q.Where("active = ?", true)
	}
	var ps []Person
	if err := q.Find(&ps).Error; err != nil {
		return nil, dbErr("people", err)
	}
	return ps, nil
}

// orgLockKey serialises changes to the team tree and people on PostgreSQL.
const orgLockKey = 7_237_011_502

// lockOrg serialises read-check-write changes of the organisation: on
// PostgreSQL with a transaction-scoped advisory lock; SQLite transactions
// already take the write lock at BEGIN.
func lockOrg(tx *gorm.DB) error {
	if tx.Dialector.Name() != "postgres" {
		return nil
	}
	return tx.Exec("SELECT pg_advisory_xact_lock(?)", orgLockKey).Error
}
