package survey

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
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
	// rosterBatch is the number of teams per INSERT or UPDATE statement.
	rosterBatch = 1000
	// rosterJSONBatch is the number of people per INSERT or UPDATE
	// statement (one JSON parameter).
	rosterJSONBatch = 5000
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

// Roster is a parsed roster file: its valid rows and its problems. The rows
// are kept compactly (16 bytes a row plus the bytes of its email, name and
// manager email, team paths once each): a roster of half a million people
// takes some 30 MB.
type Roster struct {
	// Errors holds the first MaxRosterErrors problems in line order;
	// ErrorCount counts all of them.
	Errors     []RosterLineError
	ErrorCount int
	// Delimiter is the field separator detected from the header line.
	Delimiter rune

	rows  []rosterRow // rows with a valid email, in line order
	valid int         // how many of rows have no problem
	text  textArena   // email, name and manager email of each row
	teams []string    // distinct team paths, in order of first use
	// byEmail is the index of every row, sorted by email; set when the
	// roster is valid.
	byEmail []int32
}

// rosterRow is one row of a roster file in 16 bytes; its strings are in
// Roster.text and Roster.teams.
type rosterRow struct {
	text uint32 // offset of email, name and manager email in Roster.text
	line int32
	team int32  // index in Roster.teams
	bits uint32 // lengths of email, name and manager email; flags
}

const (
	emailBits   = 9 // emails have at most 320 bytes
	nameBits    = 8 // names at most 200
	rowLeader   = 1 << (2*emailBits + nameBits)
	rowProblems = rowLeader << 1 // the row has problems: only its email is kept
)

func (w rosterRow) emailLen() int { return int(w.bits & (1<<emailBits - 1)) }
func (w rosterRow) nameLen() int  { return int(w.bits >> emailBits & (1<<nameBits - 1)) }
func (w rosterRow) managerLen() int {
	return int(w.bits >> (emailBits + nameBits) & (1<<emailBits - 1))
}
func (w rosterRow) ok() bool { return w.bits&rowProblems == 0 }

// email, name and manager are the bytes of a row's fields; they alias the
// roster's storage and must not be changed.
func (r *Roster) email(i int) []byte {
	w := r.rows[i]
	return r.text.get(w.text, w.emailLen())
}

func (r *Roster) name(i int) []byte {
	w := r.rows[i]
	return r.text.get(w.text+uint32(w.emailLen()), w.nameLen())
}

func (r *Roster) manager(i int) []byte {
	w := r.rows[i]
	return r.text.get(w.text+uint32(w.emailLen()+w.nameLen()), w.managerLen())
}

// row is the i-th stored row as a RosterRow.
func (r *Roster) row(i int) RosterRow {
	w := r.rows[i]
	return RosterRow{Line: int(w.line), Email: string(r.email(i)), Name: string(r.name(i)),
		Team: r.teams[w.team], Leader: w.bits&rowLeader != 0, ManagerEmail: string(r.manager(i))}
}

// Len is the number of valid rows.
func (r *Roster) Len() int { return r.valid }

// Rows returns the valid rows, in line order. It builds them on each call:
// for large rosters prefer Len.
func (r *Roster) Rows() []RosterRow {
	out := make([]RosterRow, 0, r.valid)
	for i, w := range r.rows {
		if w.ok() {
			out = append(out, r.row(i))
		}
	}
	return out
}

// textArena stores strings back to back in chunks of at most 1 MB, so that
// growing it never copies more than a chunk. An offset is chunk<<20 | position.
type textArena struct {
	chunks [][]byte
}

const arenaChunk = 1 << 20

// add appends the strings as one entry; ok is false when the arena is full (4 GB).
func (a *textArena) add(s ...string) (off uint32, ok bool) {
	n := 0
	for _, x := range s {
		n += len(x)
	}
	last := len(a.chunks) - 1
	if last < 0 || len(a.chunks[last])+n > arenaChunk {
		if len(a.chunks) == 1<<12 {
			return 0, false
		}
		a.chunks = append(a.chunks, make([]byte, 0, 4096<<min(len(a.chunks), 8))) // up to 1 MB
		last++
	}
	c := a.chunks[last]
	off = uint32(last)<<20 | uint32(len(c))
	for _, x := range s {
		c = append(c, x...)
	}
	a.chunks[last] = c
	return off, true
}

func (a *textArena) get(off uint32, n int) []byte {
	c, p := a.chunks[off>>20], int(off&(arenaChunk-1))
	return c[p : p+n : p+n]
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

// ParseRoster is ReadRoster on a file in memory.
func ParseRoster(data []byte) *Roster {
	r, err := ReadRoster(bytes.NewReader(data))
	if err != nil {
		panic("roster: reading from memory failed: " + err.Error()) // a bytes.Reader never fails
	}
	return r
}

// ReadRoster reads a roster CSV file: UTF-8 with or without a byte order
// mark, comma- or semicolon-separated (detected from the header line), a
// header line naming the columns email, name, team and optionally leader
// and manager_email, in any order and case. It reads the file once, as a
// stream, and keeps only the rows. Every problem of the file is reported
// with its line number in the result; the error is only for a reader that
// fails.
func ReadRoster(in io.Reader) (*Roster, error) {
	br := bufio.NewReaderSize(in, 64<<10)
	if b, err := br.Peek(len(utf8BOM)); bytes.Equal(b, utf8BOM) {
		br.Discard(len(utf8BOM))
	} else if err != nil && err != io.EOF {
		return nil, err
	}
	// The first line decides the delimiter; a file of blank lines is empty.
	var head []byte
	for {
		line, err := br.ReadBytes('\n')
		head = append(head, line...)
		if err != nil && err != io.EOF {
			return nil, err
		}
		if len(bytes.TrimSpace(line)) > 0 {
			break
		}
		if err == io.EOF {
			r := &Roster{Delimiter: detectDelimiter(head)}
			r.fail(1, "the file is empty: the first line must name the columns, e.g. email,name,team")
			return r, nil
		}
	}
	r := &Roster{Delimiter: detectDelimiter(head)}
	cr := csv.NewReader(io.MultiReader(bytes.NewReader(head), br))
	cr.Comma = r.Delimiter
	cr.FieldsPerRecord = -1 // checked here, so that every line gets its message
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true

	col := map[string]int{}
	var header []string
	headerLine := 1
	teams := map[string]int32{} // team cell as written or normalised -> index
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
				return r, nil
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		if header == nil {
			headerLine = line
			header = slices.Clone(rec)
			if !r.readHeader(line, header, col) {
				return r, nil
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
		if line > math.MaxInt32 {
			r.fail(line, "the file has more than %d lines: split it", math.MaxInt32)
			return r, nil
		}
		if !r.readRow(line, rec, col, teams) {
			r.fail(line, "the file is too large to import at once: split it")
			return r, nil
		}
	}
	if header == nil {
		r.fail(1, "the file has no header line: the first line must name the columns, e.g. email,name,team")
		return r, nil
	}
	r.checkDuplicates()
	if r.valid == 0 && r.ErrorCount == 0 {
		r.fail(headerLine, "the file lists no people: an empty roster would deactivate everyone")
	}
	if !r.Valid() {
		r.byEmail = nil
	}
	return r, nil
}

// checkDuplicates reports every row whose email an earlier row has, and
// merges those problems into Errors in line order. It leaves byEmail
// sorted by email.
func (r *Roster) checkDuplicates() {
	idx := make([]int32, len(r.rows))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(a, b int32) int {
		if c := bytes.Compare(r.email(int(a)), r.email(int(b))); c != 0 {
			return c
		}
		return int(a - b) // rows are in line order
	})
	r.byEmail = idx
	type dup struct{ row, first int32 }
	var dups []dup
	for k := 1; k < len(idx); k++ {
		if bytes.Equal(r.email(int(idx[k])), r.email(int(idx[k-1]))) {
			first := idx[k-1]
			if n := len(dups); n > 0 && dups[n-1].row == first {
				first = dups[n-1].first
			}
			dups = append(dups, dup{row: idx[k], first: first})
		}
	}
	if len(dups) == 0 {
		return
	}
	slices.SortFunc(dups, func(a, b dup) int { return int(a.row - b.row) })
	// A duplicate is the first problem of its line: the email is checked first.
	merged := make([]RosterLineError, 0, MaxRosterErrors)
	rest := r.Errors
	for _, d := range dups {
		w := &r.rows[d.row]
		if w.ok() {
			w.bits |= rowProblems
			r.valid--
		}
		for len(rest) > 0 && rest[0].Line < int(w.line) && len(merged) < MaxRosterErrors {
			merged, rest = append(merged, rest[0]), rest[1:]
		}
		if len(merged) < MaxRosterErrors {
			merged = append(merged, RosterLineError{Line: int(w.line), Message: fmt.Sprintf(
				"duplicate email %s (first on line %d)", r.email(int(d.row)), r.rows[d.first].line)})
		}
	}
	for len(rest) > 0 && len(merged) < MaxRosterErrors {
		merged, rest = append(merged, rest[0]), rest[1:]
	}
	r.Errors = merged
	r.ErrorCount += len(dups)
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

// readRow checks one data line and stores it; problems go to r. A row
// with a valid email is stored even with other problems, so that later
// duplicates of its email are reported. It reports false when the roster
// cannot hold more rows.
func (r *Roster) readRow(line int, rec []string, col map[string]int, teams map[string]int32) bool {
	for _, f := range rec {
		if !utf8.ValidString(f) {
			r.fail(line, "the line is not valid UTF-8: save the file as \"CSV UTF-8\"")
			return true
		}
	}
	field := func(name string) string {
		if i, ok := col[name]; ok {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	before := r.ErrorCount

	raw := field("email")
	email, emailOK := NormalizeEmail(raw)
	switch {
	case raw == "":
		r.fail(line, "the email is empty")
	case !emailOK:
		r.fail(line, "%q is not a valid email address", clip(raw))
	}

	name := field("name")
	switch {
	case name == "":
		r.fail(line, "the name is empty")
	case len(name) > 200:
		r.fail(line, "the name is longer than 200 characters")
	case hasControl(name):
		r.fail(line, "the name contains a control character (tab, line break...)")
	}

	team := int32(-1)
	raw = field("team")
	if raw == "" {
		r.fail(line, "the team is empty: give a path below the company such as Engineering/Platform")
	} else if t, ok := teams[raw]; ok {
		team = t
	} else if path, msg := normalizeTeamPath(raw); msg != "" {
		r.fail(line, "%s", msg)
	} else {
		t, ok := teams[path]
		if !ok {
			t = int32(len(r.teams))
			r.teams = append(r.teams, path)
			teams[path] = t
		}
		teams[strings.Clone(raw)] = t
		team = t
	}

	var bits uint32
	if v := strings.ToLower(field("leader")); v != "" {
		switch v {
		case "true", "yes", "1":
			bits |= rowLeader
		case "false", "no", "0":
		default:
			r.fail(line, "leader %q: use true or false, yes or no, 1 or 0 (or leave it empty)", clip(field("leader")))
		}
	}
	var manager string
	if raw := field("manager_email"); raw != "" {
		if m, ok := NormalizeEmail(raw); ok {
			manager = m
		} else {
			r.fail(line, "manager email %q is not a valid email address", clip(raw))
		}
	}
	if !emailOK {
		return true
	}
	if r.ErrorCount != before {
		// Only the email is kept, for the duplicate check.
		name, manager, bits, team = "", "", rowProblems, 0
	}
	off, ok := r.text.add(email, name, manager)
	if !ok {
		return false
	}
	bits |= uint32(len(email)) | uint32(len(name))<<emailBits | uint32(len(manager))<<(emailBits+nameBits)
	r.rows = append(r.rows, rosterRow{text: off, line: int32(line), team: team, bits: bits})
	if bits&rowProblems == 0 {
		r.valid++
	}
	return true
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
// followed by " (company)". A plan made with a limit lists only the first
// entries of each kind; Totals counts them all.
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
	// Totals counts the entries of each list above.
	Totals RosterTotals `json:"totals"`
	// Updated counts existing people with any change; Unchanged those
	// in the file with none.
	Updated   int      `json:"updated"`
	Unchanged int      `json:"unchanged"`
	Warnings  []string `json:"warnings"`
	// Digest identifies the plan, so that an apply can insist on the
	// plan the admin saw. It covers every entry, listed or not.
	Digest string `json:"digest"`
}

// RosterTotals counts the entries of each list of a RosterPlan.
type RosterTotals struct {
	New         int `json:"new"`
	Renamed     int `json:"renamed"`
	Moved       int `json:"moved"`
	Reactivated int `json:"reactivated"`
	Deactivated int `json:"deactivated"`
	NewTeams    int `json:"new_teams"`
	Unarchived  int `json:"unarchived_teams"`
	Leaders     int `json:"leaders"`
}

// Changes counts people and teams the plan writes.
func (p *RosterPlan) Changes() int {
	t := p.Totals
	return t.New + p.Updated + t.Deactivated + t.NewTeams + t.Unarchived
}

// RosterApplyOptions tune ApplyRoster.
type RosterApplyOptions struct {
	// ExpectDigest, when set, makes the apply fail with
	// ErrRosterPlanChanged unless the plan computed inside the
	// transaction is the one previewed.
	ExpectDigest string
	// Progress, when set, is called as people are written.
	Progress func(done, total int)
	// Limit, when positive, is how many entries of each list the returned
	// plan keeps.
	Limit int
}

// PreviewRoster computes what applying the roster would change, without
// changing anything. A file with problems is a *ValidationError.
func (s *OrgService) PreviewRoster(ctx context.Context, r *Roster) (*RosterPlan, error) {
	return s.PreviewRosterLimit(ctx, r, 0)
}

// PreviewRosterLimit is PreviewRoster keeping at most limit entries of
// each list of the plan (all of them when limit is 0); the digest and
// Totals are those of the whole plan. A page that shows the first entries
// of a large import needs no more.
func (s *OrgService) PreviewRosterLimit(ctx context.Context, r *Roster, limit int) (*RosterPlan, error) {
	if err := r.err(); err != nil {
		return nil, err
	}
	w, err := planRoster(s.db.WithContext(ctx), r, limit)
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
		w, err := planRoster(tx, r, o.Limit)
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
	r          *Roster
	teams      []resolved // per team path of the roster
	newTeams   []*newTeam // parents before children
	unarchive  []uint
	unarchived []string // their paths
	inserts    []int32  // rows of new people
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

type rosterUpdate struct {
	id  uint
	row int32
}

type personState struct {
	ID     uint
	Email  string
	Name   string
	TeamID uint
	Active bool
}

// rowMatch is the existing person a row names.
type rowMatch struct {
	id     uint
	teamID uint
	found  bool
	active bool
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
				tr.w.unarchived = append(tr.w.unarchived, r.path)
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

// find is the stored row with the email, or -1; the roster must be valid.
func (r *Roster) find(email string) int {
	lo, hi := 0, len(r.byEmail)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if string(r.email(int(r.byEmail[m]))) < email {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(r.byEmail) && string(r.email(int(r.byEmail[lo]))) == email {
		return int(r.byEmail[lo])
	}
	return -1
}

// rosterPeopleBatch is how many existing people planRoster reads at once.
const rosterPeopleBatch = 5000

// planRoster compares a valid roster with the database. With a positive
// limit, the plan's lists keep their first limit entries.
func planRoster(db *gorm.DB, r *Roster, limit int) (*rosterWork, error) {
	tree, err := loadTree(db)
	if err != nil {
		return nil, err
	}
	if tree.Root == nil {
		return nil, Conflict("set up the organisation before importing people")
	}
	plan := &RosterPlan{Rows: r.Len(), New: []RosterPerson{}, Renamed: []RosterRename{}, Moved: []RosterMove{},
		Reactivated: []RosterPerson{}, Deactivated: []RosterPerson{}, NewTeams: []string{}, Unarchived: []string{},
		Leaders: []RosterLeader{}, Warnings: []string{}}
	w := &rosterWork{plan: plan, r: r, teams: make([]resolved, len(r.teams))}
	res := newTeamResolver(tree, w)
	for i, p := range r.teams {
		w.teams[i] = res.resolve(p)
	}
	keep := func(n int) bool { return limit <= 0 || n < limit }

	// Existing people, a batch at a time, matched with the rows by email.
	var matches []rowMatch // per row, once anyone exists
	oldNames := map[int32]string{}
	var gone []personState // active people missing from the file
	active := 0
	for last := uint(0); ; {
		var batch []personState
		if err := db.Model(&Person{}).Select("id, email, name, team_id, active").Where("id > ?", last).
			Order("id").Limit(rosterPeopleBatch).Find(&batch).Error; err != nil {
			return nil, err
		}
		for _, p := range batch {
			if p.Active {
				active++
			}
			i := r.find(strings.ToLower(p.Email))
			if i < 0 {
				if p.Active {
					gone = append(gone, p)
				}
				continue
			}
			if matches == nil {
				matches = make([]rowMatch, len(r.rows))
			}
			matches[i] = rowMatch{id: p.ID, teamID: p.TeamID, found: true, active: p.Active}
			if string(r.name(i)) != p.Name {
				oldNames[int32(i)] = p.Name
			}
		}
		if len(batch) < rosterPeopleBatch {
			break
		}
		last = batch[len(batch)-1].ID
	}

	var hNew, hRenamed, hMoved, hReactivated, hLeaders listHash
	leaders := map[string]bool{}
	addLeader := func(line int, team string, email []byte, via string) {
		k := strings.ToLower(team) + "\x00" + string(email)
		if leaders[k] {
			return
		}
		leaders[k] = true
		plan.Totals.Leaders++
		hLeaders.num(line).str(team).bytes(email).str(via).end()
		if keep(len(plan.Leaders)) {
			plan.Leaders = append(plan.Leaders, RosterLeader{Line: line, Team: team, Email: string(email), Via: via})
		}
	}
	for i, row := range r.rows {
		t, line, email, name := w.teams[row.team], int(row.line), r.email(i), r.name(i)
		if row.bits&rowLeader != 0 {
			addLeader(line, t.path, email, "leader")
		}
		if m := r.manager(i); len(m) > 0 {
			addLeader(line, t.path, m, "manager_email")
		}
		var m rowMatch
		if matches != nil {
			m = matches[i]
		}
		if !m.found {
			plan.Totals.New++
			hNew.num(line).bytes(email).bytes(name).str(t.path).end()
			if keep(len(plan.New)) {
				plan.New = append(plan.New, RosterPerson{Line: line, Email: string(email), Name: string(name), Team: t.path})
			}
			w.inserts = append(w.inserts, int32(i))
			continue
		}
		changed := false
		if old, ok := oldNames[int32(i)]; ok {
			plan.Totals.Renamed++
			hRenamed.num(line).bytes(email).str(old).bytes(name).end()
			if keep(len(plan.Renamed)) {
				plan.Renamed = append(plan.Renamed, RosterRename{Line: line, Email: string(email), OldName: old, NewName: string(name)})
			}
			changed = true
		}
		if t.ref.team != nil || t.ref.id != m.teamID {
			from := displayPath(tree, m.teamID)
			plan.Totals.Moved++
			hMoved.num(line).bytes(email).bytes(name).str(from).str(t.path).end()
			if keep(len(plan.Moved)) {
				plan.Moved = append(plan.Moved, RosterMove{Line: line, Email: string(email), Name: string(name), From: from, To: t.path})
			}
			changed = true
		}
		if !m.active {
			plan.Totals.Reactivated++
			hReactivated.num(line).bytes(email).bytes(name).str(t.path).end()
			if keep(len(plan.Reactivated)) {
				plan.Reactivated = append(plan.Reactivated, RosterPerson{Line: line, Email: string(email), Name: string(name), Team: t.path})
			}
			changed = true
		}
		if changed {
			plan.Updated++
			w.updates = append(w.updates, rosterUpdate{id: m.id, row: int32(i)})
		} else {
			plan.Unchanged++
		}
	}

	var hDeactivated, hNewTeams, hUnarchived listHash
	for _, p := range gone {
		w.deactivate = append(w.deactivate, p.ID)
	}
	sort.Slice(gone, func(i, j int) bool { return gone[i].Email < gone[j].Email })
	plan.Totals.Deactivated = len(gone)
	for _, p := range gone {
		team := displayPath(tree, p.TeamID)
		hDeactivated.str(p.Email).str(p.Name).str(team).end()
		if keep(len(plan.Deactivated)) {
			plan.Deactivated = append(plan.Deactivated, RosterPerson{Email: p.Email, Name: p.Name, Team: team})
		}
	}
	sort.SliceStable(w.newTeams, func(i, j int) bool { return w.newTeams[i].depth < w.newTeams[j].depth })
	plan.Totals.NewTeams = len(w.newTeams)
	for _, nt := range w.newTeams {
		hNewTeams.str(nt.path).end()
		if keep(len(plan.NewTeams)) {
			plan.NewTeams = append(plan.NewTeams, nt.path)
		}
	}
	plan.Totals.Unarchived = len(w.unarchived)
	for _, p := range w.unarchived {
		hUnarchived.str(p).end()
		if keep(len(plan.Unarchived)) {
			plan.Unarchived = append(plan.Unarchived, p)
		}
	}
	if n := len(gone); n >= 10 && 2*n >= active {
		plan.Warnings = append(plan.Warnings, fmt.Sprintf(
			"This deactivates %d of the %d active people. People missing from the file are deactivated: check that the file lists everyone.", n, active))
	}

	var d listHash
	d.num(plan.Rows).num(plan.Updated).num(plan.Unchanged)
	for _, h := range []*listHash{&hNew, &hRenamed, &hMoved, &hReactivated, &hDeactivated, &hNewTeams, &hUnarchived, &hLeaders} {
		d.bytes(h.sum())
	}
	for _, s := range plan.Warnings {
		d.str(s)
	}
	plan.Digest = hex.EncodeToString(d.end().sum())
	return w, nil
}

// listHash hashes a list entry by entry, each field with its length, so
// that a plan's digest never needs the plan in one piece.
type listHash struct {
	h   hash.Hash
	buf []byte
	n   int
}

func (l *listHash) str(s string) *listHash {
	l.buf = binary.AppendUvarint(l.buf, uint64(len(s)))
	l.buf = append(l.buf, s...)
	return l
}

func (l *listHash) bytes(b []byte) *listHash {
	l.buf = binary.AppendUvarint(l.buf, uint64(len(b)))
	l.buf = append(l.buf, b...)
	return l
}

func (l *listHash) num(n int) *listHash {
	l.buf = binary.AppendVarint(l.buf, int64(n))
	return l
}

// end closes an entry.
func (l *listHash) end() *listHash {
	if l.h == nil {
		l.h = sha256.New()
	}
	l.n++
	l.buf = binary.AppendUvarint(l.buf, uint64(l.n))
	l.h.Write(l.buf)
	l.buf = l.buf[:0]
	return l
}

func (l *listHash) sum() []byte {
	if l.h == nil {
		l.h = sha256.New()
	}
	return l.h.Sum(nil)
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
	teamOf := func(row int32) uint { return w.teams[w.r.rows[row].team].ref.teamID() }
	// People go in batches of JSON arrays, one parameter per statement:
	// thousands of bound parameters cost more than the rows themselves
	// (the SQLite driver matches each parameter by a linear search).
	src := "json_each(?) AS e"
	if tx.Dialector.Name() == "postgres" {
		src = "json_array_elements(CAST(? AS json)) WITH ORDINALITY AS e(value, key)"
	}
	var buf []byte
	for _, batch := range chunks(w.updates, rosterJSONBatch) {
		buf = append(buf[:0], '[')
		for i, u := range batch {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, '[')
			buf = strconv.AppendUint(buf, uint64(u.id), 10)
			buf = append(buf, ',')
			buf = appendJSONString(buf, w.r.name(int(u.row)))
			buf = append(buf, ',')
			buf = strconv.AppendUint(buf, uint64(teamOf(u.row)), 10)
			buf = append(buf, ']')
		}
		buf = append(buf, ']')
		res := tx.Exec("UPDATE people SET name = v.name, team_id = v.team_id, active = ?, updated_at = ? FROM (SELECT CAST(e.value->>0 AS BIGINT) AS id, "+
			"e.value->>1 AS name, CAST(e.value->>2 AS BIGINT) AS team_id FROM "+src+") AS v WHERE people.id = v.id", true, now, string(buf))
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != int64(len(batch)) {
			return fmt.Errorf("roster update: %d of %d people updated", res.RowsAffected, len(batch))
		}
		report(len(batch))
	}
	for _, batch := range chunks(w.inserts, rosterJSONBatch) {
		buf = append(buf[:0], '[')
		for i, row := range batch {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, '[')
			buf = appendJSONString(buf, w.r.email(int(row)))
			buf = append(buf, ',')
			buf = appendJSONString(buf, w.r.name(int(row)))
			buf = append(buf, ',')
			buf = strconv.AppendUint(buf, uint64(teamOf(row)), 10)
			buf = append(buf, ']')
		}
		buf = append(buf, ']')
		res := tx.Exec("INSERT INTO people (email, name, team_id, active, created_at, updated_at) "+
			"SELECT e.value->>0, e.value->>1, CAST(e.value->>2 AS BIGINT), ?, ?, ? FROM "+src+" ORDER BY e.key", true, now, now, string(buf))
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != int64(len(batch)) {
			return fmt.Errorf("roster insert: %d of %d people inserted", res.RowsAffected, len(batch))
		}
		report(len(batch))
	}
	return nil
}

// appendJSONString appends s as a JSON string. Roster values are valid
// UTF-8 without control characters; those are escaped all the same.
func appendJSONString(buf []byte, s []byte) []byte {
	const hexDigits = "0123456789abcdef"
	buf = append(buf, '"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			buf = append(buf, '\\', c)
		case c < 0x20:
			buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		default:
			buf = append(buf, c)
		}
	}
	return append(buf, '"')
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
