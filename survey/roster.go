package survey

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gorm.io/gorm"
)

// Limits of a roster file.
const (
	// MaxRosterErrors is how many line errors a parse keeps; ErrorCount
	// counts them all.
	MaxRosterErrors = 200
	// MaxTeamDepth is the deepest team path a roster may give.
	MaxTeamDepth = 20
	// rosterBatch is the number of rows per INSERT or UPDATE statement.
	rosterBatch = 1000
)

// ErrRosterPlanChanged means the organisation changed between the preview
// and the apply: the plan the admin confirmed is no longer what would happen.
var ErrRosterPlanChanged = Conflict("the organisation changed since the preview: review the changes again before applying them")

// rosterColumns are the columns a roster may have, in the order they are
// written; email, name and team are required.
var rosterColumns = []string{"email", "name", "team", "leader", "manager_email"}

// RosterRow is one person of a roster file.
type RosterRow struct {
	Line  int    `json:"line"`
	Email string `json:"email"` // normalised (lower case)
	Name  string `json:"name"`
	// Team is the path below the company, levels joined by "/" and trimmed.
	Team string `json:"team"`
	// Leader says the person leads Team.
	Leader bool `json:"leader,omitempty"`
	// ManagerEmail names who leads the person's team (normalised).
	ManagerEmail string `json:"manager_email,omitempty"`
}

// RosterLineError is one problem of a roster file.
type RosterLineError struct {
	Line    int    `json:"line"`
	Message string `json:"message"`
}

// String reads "line N: message".
func (e RosterLineError) String() string { return fmt.Sprintf("line %d: %s", e.Line, e.Message) }

// Roster is a parsed roster file: its valid rows and its problems.
type Roster struct {
	Rows []RosterRow
	// Errors holds the first MaxRosterErrors problems in line order;
	// ErrorCount counts all of them.
	Errors     []RosterLineError
	ErrorCount int
	// Delimiter is the field separator detected from the header line.
	Delimiter rune
}

// Valid reports whether the file has no problems (and so may be applied).
func (r *Roster) Valid() bool { return r.ErrorCount == 0 }

func (r *Roster) fail(line int, format string, a ...any) {
	r.ErrorCount++
	if len(r.Errors) < MaxRosterErrors {
		r.Errors = append(r.Errors, RosterLineError{Line: line, Message: fmt.Sprintf(format, a...)})
	}
}

// err is the error Preview and Apply return for a file with problems.
func (r *Roster) err() error {
	if r.Valid() {
		return nil
	}
	msg := fmt.Sprintf("the file has %d problems, the first on %s", r.ErrorCount, r.Errors[0])
	if r.ErrorCount == 1 {
		msg = "the file has a problem on " + r.Errors[0].String()
	}
	return &ValidationError{Fields: map[string]string{"file": msg}}
}

// utf8BOM is what spreadsheet programs put in front of "CSV UTF-8" files.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// detectDelimiter picks ';' when the header line has more semicolons than
// commas outside quotes (spreadsheets in many locales save CSV that way).
func detectDelimiter(data []byte) rune {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		data = data[:i]
	}
	commas, semis, quoted := 0, 0, false
	for _, b := range data {
		switch {
		case b == '"':
			quoted = !quoted
		case quoted:
		case b == ',':
			commas++
		case b == ';':
			semis++
		}
	}
	if semis > commas {
		return ';'
	}
	return ','
}

// canonicalColumn reads a header cell: case-insensitive, trimmed, with
// inner spaces or hyphens read as underscores ("Manager email").
func canonicalColumn(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return '_'
		}
		return r
	}, s)
}

// ParseRoster reads a roster CSV file: UTF-8 with or without a byte order
// mark, comma- or semicolon-separated (detected from the header line), a
// header line naming the columns email, name, team and optionally leader
// and manager_email, in any order and case. It never fails: every problem
// is reported with its line number in the result.
func ParseRoster(data []byte) *Roster {
	data = bytes.TrimPrefix(data, utf8BOM)
	r := &Roster{Delimiter: detectDelimiter(data)}
	if len(bytes.TrimSpace(data)) == 0 {
		r.fail(1, "the file is empty: the first line must name the columns, e.g. email,name,team")
		return r
	}
	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comma = r.Delimiter
	cr.FieldsPerRecord = -1 // checked here, so that every line gets its message
	cr.TrimLeadingSpace = true

	col := map[string]int{}
	var header []string
	headerLine := 1
	seen := map[string]int{} // email -> line
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			line := max(pe.StartLine, 1)
			r.fail(line, "%s", csvProblem(pe))
			if header == nil {
				// Without a header no later line can be read.
				return r
			}
			continue
		}
		if err != nil {
			r.fail(1, "the file cannot be read: %v", err)
			return r
		}
		line, _ := cr.FieldPos(0)
		if header == nil {
			headerLine = line
			header = rec
			if !r.readHeader(line, rec, col) {
				return r
			}
			continue
		}
		if blankRecord(rec) {
			continue // trailing ";;;" lines that spreadsheets write
		}
		if len(rec) != len(header) {
			r.fail(line, "expected %d fields (%s), found %d: check the separators and quotes", len(header), strings.Join(header, string(r.Delimiter)), len(rec))
			continue
		}
		if row, ok := r.readRow(line, rec, col, seen); ok {
			r.Rows = append(r.Rows, row)
		}
	}
	if header == nil {
		r.fail(1, "the file has no header line: the first line must name the columns, e.g. email,name,team")
	} else if len(r.Rows) == 0 && r.ErrorCount == 0 {
		r.fail(headerLine, "the file lists no people: an empty roster would deactivate everyone")
	}
	return r
}

func blankRecord(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

func csvProblem(pe *csv.ParseError) string {
	switch {
	case errors.Is(pe.Err, csv.ErrBareQuote):
		return `a quote (") inside a field that does not start with one: put the whole field in double quotes and double the quotes inside it ("")`
	case errors.Is(pe.Err, csv.ErrQuote) && pe.Line > pe.StartLine:
		return fmt.Sprintf("a quoted field starts here and is not closed properly (read up to line %d): check the double quotes", pe.Line)
	case errors.Is(pe.Err, csv.ErrQuote):
		return `a quoted field is not closed properly: after the closing quote must come the separator or the end of the line`
	}
	return "the line is not valid CSV: " + pe.Err.Error()
}

// readHeader maps the columns; it reports whether rows can be read.
func (r *Roster) readHeader(line int, rec []string, col map[string]int) bool {
	for i, h := range rec {
		if !utf8.ValidString(h) {
			r.fail(line, "the header is not valid UTF-8: save the file as \"CSV UTF-8\"")
			return false
		}
		name := canonicalColumn(h)
		switch {
		case name == "":
			r.fail(line, "column %d has no name in the header", i+1)
			continue
		case !isRosterColumn(name):
			r.fail(line, "unknown column %q: the columns are %s", strings.TrimSpace(h), strings.Join(rosterColumns, ", "))
			continue
		}
		if _, dup := col[name]; dup {
			r.fail(line, "the column %q appears twice", name)
			continue
		}
		col[name] = i
	}
	ok := true
	for _, req := range rosterColumns[:3] {
		if _, has := col[req]; !has {
			r.fail(line, "the header has no %q column: the first line must name the columns, e.g. email,name,team", req)
			ok = false
		}
	}
	return ok
}

func isRosterColumn(name string) bool {
	for _, c := range rosterColumns {
		if c == name {
			return true
		}
	}
	return false
}

// readRow checks one data line; problems go to r.
func (r *Roster) readRow(line int, rec []string, col map[string]int, seen map[string]int) (RosterRow, bool) {
	for _, f := range rec {
		if !utf8.ValidString(f) {
			r.fail(line, "the line is not valid UTF-8: save the file as \"CSV UTF-8\"")
			return RosterRow{}, false
		}
	}
	field := func(name string) string {
		if i, ok := col[name]; ok {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	before := r.ErrorCount
	row := RosterRow{Line: line}

	raw := field("email")
	email, ok := NormalizeEmail(raw)
	switch {
	case raw == "":
		r.fail(line, "the email is empty")
	case !ok:
		r.fail(line, "%q is not a valid email address", clip(raw))
	default:
		if first, dup := seen[email]; dup {
			r.fail(line, "duplicate email %s (first on line %d)", email, first)
		} else {
			seen[email] = line
		}
	}
	row.Email = email

	row.Name = field("name")
	switch {
	case row.Name == "":
		r.fail(line, "the name is empty")
	case len(row.Name) > 200:
		r.fail(line, "the name is longer than 200 characters")
	case hasControl(row.Name):
		r.fail(line, "the name contains a control character (tab, line break...)")
	}

	raw = field("team")
	if raw == "" {
		r.fail(line, "the team is empty: give a path below the company such as Engineering/Platform")
	} else if path, msg := normalizeTeamPath(raw); msg != "" {
		r.fail(line, "%s", msg)
	} else {
		row.Team = path
	}

	if v := strings.ToLower(field("leader")); v != "" {
		switch v {
		case "true", "yes", "1":
			row.Leader = true
		case "false", "no", "0":
		default:
			r.fail(line, "leader %q: use true or false, yes or no, 1 or 0 (or leave it empty)", clip(field("leader")))
		}
	}
	if raw := field("manager_email"); raw != "" {
		if m, ok := NormalizeEmail(raw); ok {
			row.ManagerEmail = m
		} else {
			r.fail(line, "manager email %q is not a valid email address", clip(raw))
		}
	}
	return row, r.ErrorCount == before
}

// normalizeTeamPath trims each level of a team path; msg says what is wrong.
func normalizeTeamPath(raw string) (path, msg string) {
	parts := strings.Split(raw, "/")
	if len(parts) > MaxTeamDepth {
		return "", fmt.Sprintf("team path %q has more than %d levels", clip(raw), MaxTeamDepth)
	}
	for i, p := range parts {
		p = strings.TrimSpace(p)
		switch {
		case p == "":
			return "", fmt.Sprintf("team path %q has an empty level: remove the extra '/' (paths start below the company, e.g. Engineering/Platform)", clip(raw))
		case len(p) > 200:
			return "", fmt.Sprintf("team path %q has a level longer than 200 characters", clip(raw))
		case hasControl(p):
			return "", fmt.Sprintf("team path %q contains a control character", clip(raw))
		}
		parts[i] = p
	}
	return strings.Join(parts, "/"), ""
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, unicode.IsControl)
}

// clip shortens a value quoted in a message.
func clip(s string) string {
	if len(s) <= 80 {
		return s
	}
	cut := 80
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// RosterPerson is a person in a roster plan.
type RosterPerson struct {
	Line  int    `json:"line,omitempty"` // 0 for people not in the file
	Email string `json:"email"`
	Name  string `json:"name"`
	Team  string `json:"team"`
}

// RosterRename is a person whose name changes.
type RosterRename struct {
	Line    int    `json:"line"`
	Email   string `json:"email"`
	OldName string `json:"old_name"`
	NewName string `json:"new_name"`
}

// RosterMove is a person who changes team.
type RosterMove struct {
	Line  int    `json:"line"`
	Email string `json:"email"`
	Name  string `json:"name"`
	From  string `json:"from"`
	To    string `json:"to"`
}

// RosterLeader is a person the file names as the leader of a team. The
// import only lists them; leader accounts are invited separately.
type RosterLeader struct {
	Line  int    `json:"line"`
	Team  string `json:"team"`
	Email string `json:"email"`
	// Via is "leader" (the leader column) or "manager_email".
	Via string `json:"via"`
}

// RosterPlan is what applying a roster does. Team paths are shown with
// the spelling of existing teams; the company itself shows as its name
// followed by " (company)".
type RosterPlan struct {
	Rows        int            `json:"rows"`
	New         []RosterPerson `json:"new"`
	Renamed     []RosterRename `json:"renamed"`
	Moved       []RosterMove   `json:"moved"`
	Reactivated []RosterPerson `json:"reactivated"`
	// Deactivated are active people missing from the file. They are
	// deactivated, never deleted.
	Deactivated []RosterPerson `json:"deactivated"`
	// NewTeams are team paths created on apply, parents first.
	NewTeams []string `json:"new_teams"`
	// Unarchived are archived teams at a path of the file: they are
	// reused and unarchived rather than duplicated.
	Unarchived []string       `json:"unarchived_teams"`
	Leaders    []RosterLeader `json:"leaders"`
	// Updated counts existing people with any change; Unchanged those
	// in the file with none.
	Updated   int      `json:"updated"`
	Unchanged int      `json:"unchanged"`
	Warnings  []string `json:"warnings"`
	// Digest identifies the plan, so that an apply can insist on the
	// plan the admin saw.
	Digest string `json:"digest"`
}

// Changes counts people and teams the plan writes.
func (p *RosterPlan) Changes() int {
	return len(p.New) + p.Updated + len(p.Deactivated) + len(p.NewTeams) + len(p.Unarchived)
}

// RosterApplyOptions tune ApplyRoster.
type RosterApplyOptions struct {
	// ExpectDigest, when set, makes the apply fail with
	// ErrRosterPlanChanged unless the plan computed inside the
	// transaction is the one previewed.
	ExpectDigest string
	// Progress, when set, is called as people are written.
	Progress func(done, total int)
}

// PreviewRoster computes what applying the roster would change, without
// changing anything. A file with problems is a *ValidationError.
func (s *OrgService) PreviewRoster(ctx context.Context, r *Roster) (*RosterPlan, error) {
	if err := r.err(); err != nil {
		return nil, err
	}
	w, err := planRoster(s.db.WithContext(ctx), r)
	if err != nil {
		return nil, dbErr("roster preview", err)
	}
	return w.plan, nil
}

// ApplyRoster applies the roster in one transaction, all or nothing: it
// creates missing teams, adds new people, renames, moves and reactivates
// people, and deactivates active people missing from the file. The plan is
// computed again inside the transaction, under the organisation lock, so a
// stale preview never decides what is written. Applying the same file
// twice changes nothing the second time.
func (s *OrgService) ApplyRoster(ctx context.Context, r *Roster, o RosterApplyOptions) (*RosterPlan, error) {
	if err := r.err(); err != nil {
		return nil, err
	}
	var plan *RosterPlan
	err := tx(ctx, s.db, func(tx *gorm.DB) error {
		if err := lockOrg(tx); err != nil {
			return err
		}
		w, err := planRoster(tx, r)
		if err != nil {
			return err
		}
		if o.ExpectDigest != "" && o.ExpectDigest != w.plan.Digest {
			return ErrRosterPlanChanged
		}
		plan = w.plan
		return w.write(tx, s.now(), o.Progress)
	})
	if err != nil {
		return nil, dbErr("roster apply", err)
	}
	return plan, nil
}

// rosterWork is a plan with what is needed to carry it out.
type rosterWork struct {
	plan       *RosterPlan
	newTeams   []*newTeam // parents before children
	unarchive  []uint
	inserts    []rosterInsert
	updates    []rosterUpdate
	deactivate []uint
}

// teamRef is an existing team (id) or one to create (team).
type teamRef struct {
	id   uint
	team *newTeam
}

type newTeam struct {
	name   string
	parent teamRef
	depth  int
	id     uint // set once created
	path   string
}

func (r teamRef) teamID() uint {
	if r.team != nil {
		return r.team.id
	}
	return r.id
}

type rosterInsert struct {
	email, name string
	team        teamRef
}

type rosterUpdate struct {
	id   uint
	name string
	team teamRef
}

type personState struct {
	ID     uint
	Email  string
	Name   string
	TeamID uint
	Active bool
}

// teamResolver finds the team of a path: existing active teams first, then
// archived ones (reused and unarchived), else new ones.
type teamResolver struct {
	tree     *Tree
	children map[uint]map[string]*TeamNode // parent -> lower name -> chosen child
	byPath   map[string]resolved           // lower path -> result
	w        *rosterWork
}

type resolved struct {
	ref  teamRef
	path string // display path
}

func newTeamResolver(tree *Tree, w *rosterWork) *teamResolver {
	tr := &teamResolver{tree: tree, children: map[uint]map[string]*TeamNode{}, byPath: map[string]resolved{}, w: w}
	for _, n := range tree.Order {
		m := map[string]*TeamNode{}
		for _, c := range n.Children {
			k := strings.ToLower(c.Name)
			if prev, ok := m[k]; !ok || betterTeam(c, prev) {
				m[k] = c
			}
		}
		tr.children[n.ID] = m
	}
	return tr
}

// betterTeam prefers an active team, then the most recently archived one.
func betterTeam(a, b *TeamNode) bool {
	switch {
	case (a.ArchivedAt == nil) != (b.ArchivedAt == nil):
		return a.ArchivedAt == nil
	case a.ArchivedAt != nil && !a.ArchivedAt.Equal(*b.ArchivedAt):
		return a.ArchivedAt.After(*b.ArchivedAt)
	}
	return a.ID > b.ID
}

func (tr *teamResolver) resolve(path string) resolved {
	key := strings.ToLower(path)
	if r, ok := tr.byPath[key]; ok {
		return r
	}
	parentKey, name := "", path
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		parentKey, name = path[:i], path[i+1:]
	}
	parent := resolved{ref: teamRef{id: tr.tree.Root.ID}}
	if parentKey != "" {
		parent = tr.resolve(parentKey)
	}
	var r resolved
	join := func(n string) string {
		if parent.path == "" {
			return n
		}
		return parent.path + "/" + n
	}
	if parent.ref.team == nil {
		if c := tr.children[parent.ref.id][strings.ToLower(name)]; c != nil {
			r = resolved{ref: teamRef{id: c.ID}, path: join(c.Name)}
			if c.ArchivedAt != nil {
				tr.w.unarchive = append(tr.w.unarchive, c.ID)
				tr.w.plan.Unarchived = append(tr.w.plan.Unarchived, r.path)
			}
			tr.byPath[key] = r
			return r
		}
	}
	depth := 1
	if parent.ref.team != nil {
		depth = parent.ref.team.depth + 1
	}
	nt := &newTeam{name: name, parent: parent.ref, depth: depth, path: join(name)}
	tr.w.newTeams = append(tr.w.newTeams, nt)
	r = resolved{ref: teamRef{team: nt}, path: nt.path}
	tr.byPath[key] = r
	return r
}

// displayPath is a team's path for people; the company shows by name.
func displayPath(tree *Tree, id uint) string {
	n := tree.ByID[id]
	switch {
	case n == nil:
		return fmt.Sprintf("(team %d)", id)
	case n.ParentID == nil:
		return n.Name + " (company)"
	}
	return n.Path
}

// planRoster compares the roster with the database.
func planRoster(db *gorm.DB, r *Roster) (*rosterWork, error) {
	tree, err := loadTree(db)
	if err != nil {
		return nil, err
	}
	if tree.Root == nil {
		return nil, Conflict("set up the organisation before importing people")
	}
	var people []personState
	if err := db.Model(&Person{}).Select("id, email, name, team_id, active").Order("id").Find(&people).Error; err != nil {
		return nil, err
	}
	byEmail := make(map[string]*personState, len(people))
	for i := range people {
		byEmail[strings.ToLower(people[i].Email)] = &people[i]
	}

	plan := &RosterPlan{Rows: len(r.Rows), New: []RosterPerson{}, Renamed: []RosterRename{}, Moved: []RosterMove{},
		Reactivated: []RosterPerson{}, Deactivated: []RosterPerson{}, NewTeams: []string{}, Unarchived: []string{},
		Leaders: []RosterLeader{}, Warnings: []string{}}
	w := &rosterWork{plan: plan}
	res := newTeamResolver(tree, w)
	inFile := make(map[uint]bool, len(r.Rows))
	leaders := map[string]bool{}
	addLeader := func(l RosterLeader) {
		k := strings.ToLower(l.Team) + "\x00" + l.Email
		if !leaders[k] {
			leaders[k] = true
			plan.Leaders = append(plan.Leaders, l)
		}
	}
	for _, row := range r.Rows {
		t := res.resolve(row.Team)
		if row.Leader {
			addLeader(RosterLeader{Line: row.Line, Team: t.path, Email: row.Email, Via: "leader"})
		}
		if row.ManagerEmail != "" {
			addLeader(RosterLeader{Line: row.Line, Team: t.path, Email: row.ManagerEmail, Via: "manager_email"})
		}
		p := byEmail[row.Email]
		if p == nil {
			plan.New = append(plan.New, RosterPerson{Line: row.Line, Email: row.Email, Name: row.Name, Team: t.path})
			w.inserts = append(w.inserts, rosterInsert{email: row.Email, name: row.Name, team: t.ref})
			continue
		}
		inFile[p.ID] = true
		changed := false
		if p.Name != row.Name {
			plan.Renamed = append(plan.Renamed, RosterRename{Line: row.Line, Email: p.Email, OldName: p.Name, NewName: row.Name})
			changed = true
		}
		if t.ref.team != nil || t.ref.id != p.TeamID {
			plan.Moved = append(plan.Moved, RosterMove{Line: row.Line, Email: p.Email, Name: row.Name,
				From: displayPath(tree, p.TeamID), To: t.path})
			changed = true
		}
		if !p.Active {
			plan.Reactivated = append(plan.Reactivated, RosterPerson{Line: row.Line, Email: p.Email, Name: row.Name, Team: t.path})
			changed = true
		}
		if changed {
			plan.Updated++
			w.updates = append(w.updates, rosterUpdate{id: p.ID, name: row.Name, team: t.ref})
		} else {
			plan.Unchanged++
		}
	}
	active := 0
	for i := range people {
		p := &people[i]
		if !p.Active {
			continue
		}
		active++
		if !inFile[p.ID] {
			plan.Deactivated = append(plan.Deactivated, RosterPerson{Email: p.Email, Name: p.Name, Team: displayPath(tree, p.TeamID)})
			w.deactivate = append(w.deactivate, p.ID)
		}
	}
	sort.Slice(plan.Deactivated, func(i, j int) bool { return plan.Deactivated[i].Email < plan.Deactivated[j].Email })
	sort.SliceStable(w.newTeams, func(i, j int) bool { return w.newTeams[i].depth < w.newTeams[j].depth })
	for _, nt := range w.newTeams {
		plan.NewTeams = append(plan.NewTeams, nt.path)
	}
	if n := len(plan.Deactivated); n >= 10 && 2*n >= active {
		plan.Warnings = append(plan.Warnings, fmt.Sprintf(
			"This deactivates %d of the %d active people. People missing from the file are deactivated: check that the file lists everyone.", n, active))
	}
	plan.Digest = plan.digest()
	return w, nil
}

func (p *RosterPlan) digest() string {
	c := *p
	c.Digest = ""
	b, err := json.Marshal(c)
	if err != nil {
		panic("roster plan: " + err.Error()) // plain data: cannot happen
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// write carries out the plan inside tx, in batches: teams a level at a
// time (children need their parent's id), then people.
func (w *rosterWork) write(tx *gorm.DB, now time.Time, progress func(done, total int)) error {
	for i := 0; i < len(w.newTeams); {
		j := i
		for j < len(w.newTeams) && w.newTeams[j].depth == w.newTeams[i].depth {
			j++
		}
		level := w.newTeams[i:j]
		rows := make([]Team, len(level))
		for k, nt := range level {
			parent := nt.parent.teamID()
			rows[k] = Team{ParentID: &parent, Name: nt.name, CreatedAt: now, UpdatedAt: now}
		}
		if err := tx.CreateInBatches(rows, rosterBatch).Error; err != nil {
			return err
		}
		for k, nt := range level {
			if rows[k].ID == 0 {
				return fmt.Errorf("created team %q has no id", nt.path)
			}
			nt.id = rows[k].ID
		}
		i = j
	}
	for _, ids := range chunks(w.unarchive, rosterBatch) {
		if err := tx.Model(&Team{}).Where("id IN ?", ids).
			Updates(map[string]any{"archived_at": nil, "updated_at": now}).Error; err != nil {
			return err
		}
	}

	total := len(w.deactivate) + len(w.updates) + len(w.inserts)
	done := 0
	report := func(n int) {
		done += n
		if progress != nil {
			progress(done, total)
		}
	}
	report(0)
	for _, ids := range chunks(w.deactivate, rosterBatch) {
		if err := tx.Model(&Person{}).Where("id IN ?", ids).
			Updates(map[string]any{"active": false, "updated_at": now}).Error; err != nil {
			return err
		}
		report(len(ids))
	}
	// One statement per batch on both dialects: UPDATE ... FROM (VALUES ...)
	// (PostgreSQL, and SQLite since 3.33); VALUES columns are named
	// column1, column2... on both. The casts type the parameters for PostgreSQL.
	for _, batch := range chunks(w.updates, rosterBatch/2) {
		var q strings.Builder
		args := make([]any, 0, 2+3*len(batch))
		q.WriteString("UPDATE people SET name = v.column2, team_id = v.column3, active = ?, updated_at = ? FROM (VALUES ")
		args = append(args, true, now)
		for i, u := range batch {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(CAST(? AS BIGINT), CAST(? AS TEXT), CAST(? AS BIGINT))")
			args = append(args, u.id, u.name, u.team.teamID())
		}
		q.WriteString(") AS v WHERE people.id = v.column1")
		res := tx.Exec(q.String(), args...)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != int64(len(batch)) {
			return fmt.Errorf("roster update: %d of %d people updated", res.RowsAffected, len(batch))
		}
		report(len(batch))
	}
	for _, batch := range chunks(w.inserts, rosterBatch) {
		rows := make([]Person, len(batch))
		for i, in := range batch {
			rows[i] = Person{Email: in.email, Name: in.name, TeamID: in.team.teamID(), Active: true, CreatedAt: now, UpdatedAt: now}
		}
		if err := tx.CreateInBatches(rows, rosterBatch).Error; err != nil {
			return err
		}
		report(len(batch))
	}
	return nil
}

func chunks[T any](s []T, n int) [][]T {
	var out [][]T
	for len(s) > n {
		out = append(out, s[:n])
		s = s[n:]
	}
	if len(s) > 0 {
		out = append(out, s)
	}
	return out
}
