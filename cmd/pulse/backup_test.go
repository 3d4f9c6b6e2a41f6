package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/pulse-survey/pulse/survey"
	"github.com/pulse-survey/pulse/survey/migrations"
)

// needPgTools puts PostgreSQL's client programs on PATH when the target
// is PostgreSQL: from PATH, else from Debian's versioned directories.
// Without them the test is skipped, except under CI, where that fails.
func needPgTools(t *testing.T, tg target) {
	t.Helper()
	if tg.url == "" {
		return
	}
	if _, err := exec.LookPath("pg_dump"); err == nil {
		return
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pg_dump")); err == nil {
			t.Setenv("PATH", d+string(os.PathListSeparator)+os.Getenv("PATH"))
			return
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("pg_dump and pg_restore are needed for backups on PostgreSQL and are not installed (postgresql-client)")
	}
	t.Skip("pg_dump is not installed (postgresql-client): skipping the PostgreSQL backup test")
}

// pulseWith runs pulse with the target's flags after args.
func pulseWith(t *testing.T, tg target, args ...string) result {
	t.Helper()
	return runPulse(t, nil, append(args, tg.args...)...)
}

func mustPulse(t *testing.T, tg target, args ...string) string {
	t.Helper()
	r := pulseWith(t, tg, args...)
	if r.code != 0 {
		t.Fatalf("pulse %s: exit %d; stderr:\n%s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

// tableNames lists the user tables of a database.
func tableNames(t *testing.T, db *gorm.DB) []string {
	t.Helper()
	names, err := tablesOf(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// dump returns the rows of a query as JSON, without the named columns.
func dump(t *testing.T, db *gorm.DB, query string, drop ...string) string {
	t.Helper()
	var rows []map[string]any
	if err := db.Raw(query).Scan(&rows).Error; err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	for _, r := range rows {
		for _, c := range drop {
			delete(r, c)
		}
		for k, v := range r {
			if b, ok := v.([]byte); ok {
				r[k] = string(b)
			}
		}
	}
	b, err := json.MarshalIndent(rows, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestBackupRestoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	src := newTarget(t)
	needPgTools(t, src)
	mustPulse(t, src, "migrate")
	db := openDB(t, src.opts(false))
	svc := survey.New(db, survey.Options{BcryptCost: 4})
	if _, err := svc.Org.Init(ctx, survey.SettingsInput{Name: "Acme Backup", TimeZone: "Europe/Berlin", MinGroupSize: 5}); err != nil {
		t.Fatal(err)
	}
	roster := writeFile(t, "roster.csv", "email,name,team\nada@example.com,Ada,Engineering/Platform\ngrace@example.com,Grace,Engineering/Kernel\n")
	mustPulse(t, src, "roster", "import", roster, "--apply")

	file := filepath.Join(t.TempDir(), "pulse.backup")
	out := mustPulse(t, src, "backup", file)
	if !strings.Contains(out, "backed up the database (schema "+migrations.Latest()+") to "+file) {
		t.Errorf("backup output:\n%s", out)
	}
	// The secret key file is never part of a backup.
	keyFile := filepath.Join(src.dir, "secret.key")
	if _, err := os.Stat(keyFile); err == nil {
		t.Fatalf("backup created a secret key file")
	}
	if k, _, err := loadKeyring(keyFile); err != nil || k == nil {
		t.Fatal(err)
	}
	key, _ := os.ReadFile(keyFile)
	if b, _ := os.ReadFile(file); strings.Contains(string(b), strings.TrimSpace(string(key))) {
		t.Errorf("the backup holds the secret key")
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("the backup file should be readable by its owner only: %v %v", fi.Mode(), err)
	}

	dst := newTarget(t)
	out = mustPulse(t, dst, "restore", file)
	if !strings.Contains(out, "restored "+file+" into ") || !strings.Contains(out, "(schema "+migrations.Latest()+")") ||
		!strings.Contains(out, "no round was open in the backup") {
		t.Errorf("restore output:\n%s", out)
	}
	rdb := openDB(t, dst.opts(false))
	for _, q := range []string{
		"SELECT name, time_zone, min_group_size FROM org_settings",
		"SELECT id, parent_id, name FROM teams ORDER BY id",
		"SELECT id, email, name, team_id, active FROM people ORDER BY id",
		"SELECT id FROM schema_migrations ORDER BY id",
	} {
		if a, b := dump(t, db, q), dump(t, rdb, q); a != b {
			t.Errorf("%s differs after the round trip:\noriginal %s\nrestored %s", q, a, b)
		}
	}
	if got := dump(t, rdb, "SELECT email FROM people ORDER BY email"); !strings.Contains(got, "grace@example.com") {
		t.Errorf("restored people: %s", got)
	}
	if _, err := os.Stat(filepath.Join(dst.dir, "secret.key")); err == nil {
		t.Errorf("restore created a secret key file: the original instance's file must be used")
	}
	if dst.url == "" {
		left, _ := filepath.Glob(filepath.Join(dst.dir, ".pulse-restore-*"))
		if len(left) > 0 {
			t.Errorf("restore left temporary files: %q", left)
		}
	}

	// The restored instance serves: migrate is a no-op, its org is there.
	if out := mustPulse(t, dst, "migrate"); !strings.Contains(out, migrations.Latest()) {
		t.Errorf("migrate after restore: %s", out)
	}
	if st, err := survey.New(rdb, survey.Options{}).Org.Settings(ctx); err != nil || st.Name != "Acme Backup" {
		t.Errorf("restored settings: %+v, %v", st, err)
	}
}

func TestRestoreMigratesAnOlderBackup(t *testing.T) {
	ctx := context.Background()
	src := newTarget(t)
	needPgTools(t, src)
	old := "0004_audit_tokens"
	if err := migrations.UpTo(ctx, openDB(t, src.opts(false)), old); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "old.backup")
	// A backup leaves the schema as it is.
	if out := mustPulse(t, src, "backup", file); !strings.Contains(out, "(schema "+old+")") {
		t.Errorf("backup output: %s", out)
	}
	dst := newTarget(t)
	out := mustPulse(t, dst, "restore", file)
	if !strings.Contains(out, "migrated it from schema "+old+" to "+migrations.Latest()) {
		t.Errorf("restore output:\n%s", out)
	}
	ids, err := migrations.Applied(ctx, openDB(t, dst.opts(false)))
	if err != nil || len(ids) == 0 || ids[len(ids)-1] != migrations.Latest() {
		t.Errorf("restored schema %q (%v), want up to %s", ids, err, migrations.Latest())
	}
}

func TestBackupRefusesExistingFile(t *testing.T) {
	src := newTarget(t)
	needPgTools(t, src)
	mustPulse(t, src, "migrate")
	dir := t.TempDir()
	file := filepath.Join(dir, "taken.backup")
	if err := os.WriteFile(file, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := pulseWith(t, src, "backup", file)
	if r.code != 1 {
		t.Errorf("exit %d, want 1; stderr:\n%s", r.code, r.stderr)
	}
	checkOneLine(t, "backup over an existing file", r.stderr)
	if !strings.Contains(r.stderr, "already exists") {
		t.Errorf("stderr: %q", r.stderr)
	}
	if b, _ := os.ReadFile(file); string(b) != "keep me" {
		t.Errorf("the existing file was changed: %q", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the backup left files behind: %v", entries)
	}
}

func TestBackupUsage(t *testing.T) {
	for _, args := range [][]string{{"backup"}, {"restore"}, {"backup", "--data-dir", "x"}} {
		r := runPulse(t, nil, args...)
		if r.code != 2 || !strings.HasPrefix(r.stderr, "pulse: "+args[0]+": name the file first") {
			t.Errorf("%q: exit %d, stderr:\n%s", args, r.code, r.stderr)
		}
	}
	r := runPulse(t, nil, "backup", "a", "b", "--data-dir", t.TempDir())
	if r.code != 2 || r.stderr != "pulse: unexpected argument \"b\"\n" {
		t.Errorf("extra argument: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := runPulse(t, nil, "restore", "-h"); r.code != 0 || !strings.Contains(r.stdout, "Usage: pulse backup FILE") {
		t.Errorf("restore -h: exit %d, stdout:\n%s", r.code, r.stdout)
	}
	// Nothing to back up: no database in the data directory.
	dir := t.TempDir()
	r = runPulse(t, nil, "backup", filepath.Join(dir, "b"), "--data-dir", filepath.Join(dir, "data"))
	if r.code != 1 || !strings.Contains(r.stderr, "nothing to back up") {
		t.Errorf("backup without a database: exit %d, stderr %q", r.code, r.stderr)
	}
	checkOneLine(t, "backup without a database", r.stderr)
	if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
		t.Errorf("backup created the data directory")
	}
}

func TestRestoreRefusesNonEmptyTarget(t *testing.T) {
	ctx := context.Background()
	src := newTarget(t)
	needPgTools(t, src)
	mustPulse(t, src, "migrate")
	file := filepath.Join(t.TempDir(), "pulse.backup")
	mustPulse(t, src, "backup", file)

	t.Run("pulse database", func(t *testing.T) {
		dst := newTarget(t)
		mustPulse(t, dst, "migrate")
		db := openDB(t, dst.opts(false))
		if _, err := survey.New(db, survey.Options{}).Org.Init(ctx, survey.SettingsInput{Name: "Live", TimeZone: "UTC", MinGroupSize: 5}); err != nil {
			t.Fatal(err)
		}
		r := pulseWith(t, dst, "restore", file)
		if r.code != 1 || !strings.Contains(r.stderr, "already holds a Pulse database (schema "+migrations.Latest()+")") ||
			!strings.Contains(r.stderr, "restore only fills an empty instance") {
			t.Errorf("exit %d, stderr %q", r.code, r.stderr)
		}
		checkOneLine(t, "restore over a Pulse database", r.stderr)
		if st, err := survey.New(db, survey.Options{}).Org.Settings(ctx); err != nil || st.Name != "Live" {
			t.Errorf("the live organisation changed: %+v, %v", st, err)
		}
	})
	t.Run("other tables", func(t *testing.T) {
		dst := newTarget(t)
		db := openDB(t, dst.opts(false))
		if err := db.Exec("CREATE TABLE notes (body TEXT)").Error; err != nil {
			t.Fatal(err)
		}
		r := pulseWith(t, dst, "restore", file)
		if r.code != 1 || !strings.Contains(r.stderr, "already holds tables (") || !strings.Contains(r.stderr, "notes") {
			t.Errorf("exit %d, stderr %q", r.code, r.stderr)
		}
		checkOneLine(t, "restore over other tables", r.stderr)
		if got := tableNames(t, db); len(got) != 1 {
			t.Errorf("tables after the refused restore: %q", got)
		}
	})
}

func TestRestoreRejectsBadFiles(t *testing.T) {
	ctx := context.Background()
	src := newTarget(t)
	needPgTools(t, src)
	mustPulse(t, src, "migrate")
	// A database written by a newer Pulse.
	if err := openDB(t, src.opts(false)).Exec("INSERT INTO schema_migrations (id) VALUES ('9999_future')").Error; err != nil {
		t.Fatal(err)
	}
	future := filepath.Join(t.TempDir(), "future.backup")
	mustPulse(t, src, "backup", future)

	// A database of another application, in this dialect.
	foreignSrc := newTarget(t)
	fdb := openDB(t, foreignSrc.opts(false))
	if err := fdb.Exec("CREATE TABLE notes (body TEXT)").Error; err != nil {
		t.Fatal(err)
	}
	closeDB(fdb)
	foreign := filepath.Join(t.TempDir(), "foreign.backup")
	if foreignSrc.url == "" {
		foreign = foreignSrc.opts(false).SQLitePath
	} else if _, err := runTool(ctx, "pg_dump", nil, "--format=custom", "--file="+foreign, "--dbname="+foreignSrc.url); err != nil {
		t.Fatal(err)
	}

	// A backup of the other dialect.
	otherDialect := filepath.Join(t.TempDir(), "other.backup")
	other := []byte(sqliteMagic)
	if src.url == "" {
		other = []byte(pgdumpMagic + "\x01\x0f\x00")
	}
	if err := os.WriteFile(otherDialect, other, 0o600); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct{ name, file, want string }{
		{"newer schema", future, "comes from a newer Pulse (it has migration 9999_future"},
		{"foreign database", foreign, "it has no schema"},
		{"not a backup", writeFile(t, "x.csv", "email,name,team\n"), "is not a Pulse backup (neither a SQLite database nor a pg_dump custom-format archive)"},
		{"other dialect", otherDialect, "backup but this instance uses"},
		{"missing", filepath.Join(t.TempDir(), "nope"), "cannot read the backup"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dst := newTarget(t)
			r := pulseWith(t, dst, "restore", c.file)
			if r.code != 1 || !strings.Contains(r.stderr, c.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", r.code, r.stderr, c.want)
			}
			checkOneLine(t, c.name, r.stderr)
			// Nothing was restored: the target is still empty.
			if dst.url == "" {
				if entries, _ := os.ReadDir(dst.dir); len(entries) != 0 {
					t.Errorf("the data directory is not empty after a refused restore: %v", entries)
				}
			} else if got := tableNames(t, openDB(t, dst.opts(false))); len(got) != 0 {
				t.Errorf("tables after a refused restore: %q", got)
			}
		})
	}
}

func TestBackupPgDumpVersion(t *testing.T) {
	src := newTarget(t)
	if src.url == "" {
		t.Skip("pg_dump is for PostgreSQL; this run uses SQLite")
	}
	mustPulse(t, src, "migrate")
	bin := t.TempDir()
	t.Setenv("PATH", bin)
	dir := t.TempDir()
	file := filepath.Join(dir, "b.backup")

	r := pulseWith(t, src, "backup", file)
	if r.code != 1 || !strings.Contains(r.stderr, "pg_dump is not on PATH: install the PostgreSQL client tools of version") {
		t.Errorf("no pg_dump: exit %d, stderr %q", r.code, r.stderr)
	}
	checkOneLine(t, "no pg_dump", r.stderr)

	// A pg_dump older than the server is refused before it runs.
	script := "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'pg_dump (PostgreSQL) 9.6.24'; exit 0; fi\necho ran > " + filepath.Join(bin, "ran") + "\n"
	if err := os.WriteFile(filepath.Join(bin, "pg_dump"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	r = pulseWith(t, src, "backup", file)
	if r.code != 1 || !strings.Contains(r.stderr, "is version 9.6 but the PostgreSQL server is ") {
		t.Errorf("old pg_dump: exit %d, stderr %q", r.code, r.stderr)
	}
	checkOneLine(t, "old pg_dump", r.stderr)
	if _, err := os.Stat(filepath.Join(bin, "ran")); err == nil {
		t.Errorf("the old pg_dump was run")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a refused backup left files: %v", entries)
	}

	// A pg_dump that writes nothing, or fails, leaves no file either.
	script = "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'pg_dump (PostgreSQL) 16.1'; exit 0; fi\nexit 0\n"
	if err := os.WriteFile(filepath.Join(bin, "pg_dump"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	r = pulseWith(t, src, "backup", file)
	if r.code != 1 || !strings.Contains(r.stderr, "pg_dump wrote no custom-format archive") {
		t.Errorf("silent pg_dump: exit %d, stderr %q", r.code, r.stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("an empty dump was kept: %v", entries)
	}

	script = "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'pg_dump (PostgreSQL) 99.1'; exit 0; fi\necho 'pg_dump: error: disk on fire' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bin, "pg_dump"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	r = pulseWith(t, src, "backup", file)
	if r.code != 1 || !strings.Contains(r.stderr, "pg_dump failed: pg_dump: error: disk on fire") {
		t.Errorf("failing pg_dump: exit %d, stderr %q", r.code, r.stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a failed backup left files: %v", entries)
	}
}

// openRound migrates tg, imports n people in four teams, and launches a
// round with keyFile as the instance secret key file. It returns services
// on tg with that keyring.
func openRound(t *testing.T, tg target, keyFile string, n int) (*survey.Services, *survey.Keyring, uint) {
	t.Helper()
	ctx := context.Background()
	keyArg := []string{"--secret-key-file", keyFile}
	mustPulse(t, tg, append([]string{"migrate"}, keyArg...)...)
	kr, _, err := loadKeyring(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	svc := survey.New(openDB(t, tg.opts(false)), survey.Options{BcryptCost: 4, Keyring: kr})
	if _, err := svc.Org.Init(ctx, survey.SettingsInput{Name: "Acme", TimeZone: "UTC", MinGroupSize: 5}); err != nil {
		t.Fatal(err)
	}
	var csv strings.Builder
	csv.WriteString("email,name,team\n")
	teams := []string{"Engineering/Platform", "Engineering/Kernel", "Sales", "Support"}
	for i := 0; i < n; i++ {
		fmt.Fprintf(&csv, "p%03d@example.com,Person %d,%s\n", i, i, teams[i%len(teams)])
	}
	mustPulse(t, tg, "roster", "import", writeFile(t, "roster.csv", csv.String()), "--apply")
	if err := svc.Programs.SyncBuiltinQuestions(ctx); err != nil {
		t.Fatal(err)
	}
	qs, err := svc.Programs.Questions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var qids []uint
	for _, q := range qs {
		qids = append(qids, q.ID)
	}
	p, err := svc.Programs.CreateProgram(ctx, survey.ProgramInput{Name: "Pulse", Cadence: survey.CadenceWeeks, IntervalWeeks: 2,
		Weekday: time.Monday, TimeOfDay: "09:00", OpenDays: 5, ItemsPerRound: 8, MinGroupSize: 5, QuestionIDs: qids, Paused: true})
	if err != nil {
		t.Fatal(err)
	}
	mustPulse(t, tg, append([]string{"round", "launch", "--program", fmt.Sprint(p.ID)}, keyArg...)...)
	rounds, err := svc.Rounds.Rounds(ctx)
	if err != nil || len(rounds) != 1 {
		t.Fatalf("rounds: %+v, %v", rounds, err)
	}
	return svc, kr, rounds[0].ID
}

func TestRestoreChecksSecretKey(t *testing.T) {
	src := newTarget(t)
	needPgTools(t, src)
	keyFile := filepath.Join(t.TempDir(), "secret.key")
	openRound(t, src, keyFile, 5)
	file := filepath.Join(t.TempDir(), "open-round.backup")
	mustPulse(t, src, "backup", file)

	otherKey := filepath.Join(t.TempDir(), "other.key")
	if _, _, err := loadKeyring(otherKey); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, key, stdout, stderr string
	}{
		{"same key", keyFile, "opens the keys of the 1 open round(s) in the backup", ""},
		{"no key file", "", "", "pulse: warning: the backup has 1 open round(s) and there is no secret key file at "},
		{"another key", otherKey, "", "pulse: warning: the secret key file " + otherKey + " does not open the keys of the backup's open rounds"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dst := newTarget(t)
			args := []string{"restore", file}
			if c.key != "" {
				args = append(args, "--secret-key-file", c.key)
			}
			r := pulseWith(t, dst, args...)
			if r.code != 0 || !strings.Contains(r.stdout, "restored "+file) {
				t.Fatalf("exit %d; stdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout, c.stdout) {
				t.Errorf("stdout lacks %q:\n%s", c.stdout, r.stdout)
			}
			if c.stderr == "" && r.stderr != "" || !strings.HasPrefix(r.stderr, c.stderr) {
				t.Errorf("stderr %q, want %q", r.stderr, c.stderr)
			}
			if c.stderr != "" {
				checkOneLine(t, c.name, r.stderr)
			}
			if _, err := os.Stat(filepath.Join(dst.dir, "secret.key")); err == nil {
				t.Errorf("restore created a secret key file")
			}
		})
	}
}

// submission is one ballot that the original instance accepted.
type submission struct {
	in    survey.BallotInput
	phase string // before, during or after the backup
}

// TestBackupWhileSubmitting takes a backup while ballots arrive, restores
// it into a fresh instance with the same secret key file, gives the
// restored instance the ballots that arrived after its snapshot, closes
// the round on both and compares the releases that every report reads.
func TestBackupWhileSubmitting(t *testing.T) {
	ctx := context.Background()
	src := newTarget(t)
	needPgTools(t, src)
	// The secret key lives apart from the data directory, as the README asks.
	keyFile := filepath.Join(t.TempDir(), "secret.key")
	keyArg := []string{"--secret-key-file", keyFile}
	svc, kr, roundID := openRound(t, src, keyFile, 120)
	db := svc.DB

	// Every invitee takes a token first, as the survey page does on opening.
	links, err := svc.Rounds.Links(ctx, roundID)
	if err != nil {
		t.Fatal(err)
	}
	var ballots []survey.BallotInput
	for i, l := range links {
		v, err := svc.Rounds.SurveyBySecret(ctx, l.Secret)
		if err != nil {
			t.Fatal(err)
		}
		m, _, err := svc.Rounds.Manifest(ctx, roundID)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := survey.ObtainToken(m, roundID, v.UnitID, v.KeyID, func(b []byte) ([]byte, error) {
			return svc.Rounds.IssueToken(ctx, l.Secret, b)
		})
		if err != nil {
			t.Fatal(err)
		}
		answers := map[uint]int{}
		for _, q := range v.Questions {
			answers[q.QuestionID] = 1 + (i*7+q.Position*3)%5
		}
		comment := ""
		if i%3 == 0 {
			comment = fmt.Sprintf("more quiet rooms, please (%d)", i)
		}
		in, err := tok.Ballot(answers, comment)
		if err != nil {
			t.Fatal(err)
		}
		ballots = append(ballots, in)
	}

	var (
		mu       sync.Mutex
		accepted []submission
		phase    atomic.Value
		busy     = make(chan struct{}) // the writers are well under way
	)
	phase.Store("before")
	submit := func(in survey.BallotInput) {
		before := phase.Load().(string)
		if err := svc.Rounds.SubmitBallot(ctx, in); err != nil {
			t.Errorf("submit: %v", err)
			return
		}
		ph := phase.Load().(string)
		if ph != before {
			ph = "during" // it straddled a boundary of the backup
		}
		mu.Lock()
		accepted = append(accepted, submission{in: in, phase: ph})
		if len(accepted) == 25 {
			close(busy)
		}
		mu.Unlock()
	}
	// Ten ballots are in before the writers start; four writers send the
	// rest but five, and the backup starts once they are well under way;
	// the last five arrive after it ended.
	first, middle, last := ballots[:10], ballots[10:len(ballots)-5], ballots[len(ballots)-5:]
	for _, in := range first {
		submit(in)
	}
	queue := make(chan survey.BallotInput, len(middle))
	for _, in := range middle {
		queue <- in
	}
	close(queue)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	started := make(chan struct{}, 4)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started <- struct{}{}
			for {
				select {
				case <-stop:
					return
				default:
				}
				in, ok := <-queue
				if !ok {
					return
				}
				submit(in)
			}
		}()
	}
	for w := 0; w < 4; w++ {
		<-started
	}
	select {
	case <-busy:
	case <-time.After(2 * time.Minute):
		close(stop)
		t.Fatal("the writers did not get going (see the submit errors above)")
	}
	file := filepath.Join(t.TempDir(), "live.backup")
	phase.Store("during")
	r := pulseWith(t, src, "backup", file)
	phase.Store("after")
	close(stop)
	wg.Wait()
	if r.code != 0 {
		t.Fatalf("backup while submitting: exit %d; stderr:\n%s", r.code, r.stderr)
	}
	for in := range queue { // what the writers did not get to
		submit(in)
	}
	for _, in := range last {
		submit(in)
	}
	if t.Failed() {
		t.FailNow()
	}
	count := map[string]int{}
	for _, s := range accepted {
		count[s.phase]++
	}
	t.Logf("ballots accepted before the backup %d, during %d, after %d", count["before"], count["during"], count["after"])

	// A fresh instance, the same secret key file.
	dst := newTarget(t)
	if out := mustPulse(t, dst, append([]string{"restore", file}, keyArg...)...); !strings.Contains(out, "opens the keys of the 1 open round(s)") {
		t.Errorf("restore output:\n%s", out)
	}
	rdb := openDB(t, dst.opts(false))
	rsvc := survey.New(rdb, survey.Options{BcryptCost: 4, Keyring: kr})
	// A consistent copy: every ballot in the box has its spent token.
	var box, spent int64
	rdb.Table("ballot_box").Where("round_id = ?", roundID).Count(&box)
	rdb.Table("spent_tokens").Where("round_id = ?", roundID).Count(&spent)
	if box != spent || box < int64(count["before"]) || box > int64(len(accepted)-count["after"]) {
		t.Errorf("restored ballot box %d, spent tokens %d; want equal, between %d and %d", box, spent, count["before"], len(accepted)-count["after"])
	}
	// The ballots that arrived after the snapshot are accepted by the
	// restored instance (its round keys open with the same key file); those
	// in the backup are refused as spent.
	var replayed, inBackup int
	for _, s := range accepted {
		err := rsvc.Rounds.SubmitBallot(ctx, s.in)
		switch {
		case err == nil:
			replayed++
			if s.phase == "before" {
				t.Errorf("a ballot accepted before the backup started is missing from it")
			}
		case errors.Is(err, survey.ErrTokenSpent):
			inBackup++
			if s.phase == "after" {
				t.Errorf("a ballot accepted after the backup ended is in it")
			}
		default:
			t.Fatalf("replay on the restored instance: %v", err)
		}
	}
	if int64(inBackup) != box {
		t.Errorf("%d ballots refused as spent, but the restored box had %d", inBackup, box)
	}
	t.Logf("restored box %d ballots; %d replayed after restore", box, replayed)

	mustPulse(t, src, append([]string{"round", "close", "--round", fmt.Sprint(roundID)}, keyArg...)...)
	mustPulse(t, dst, append([]string{"round", "close", "--round", fmt.Sprint(roundID)}, keyArg...)...)
	var respondents int
	if err := db.Raw("SELECT respondents FROM releases WHERE round_id = ?", roundID).Scan(&respondents).Error; err != nil || respondents != len(ballots) {
		t.Errorf("original release: %d respondents (%v), want %d", respondents, err, len(ballots))
	}
	id := fmt.Sprint(roundID)
	for _, q := range []struct {
		sql  string
		drop []string
	}{
		{"SELECT * FROM releases WHERE round_id = " + id, []string{"created_at"}},
		{"SELECT * FROM release_units WHERE round_id = " + id + " ORDER BY unit_id", nil},
		{"SELECT * FROM release_items WHERE round_id = " + id + " ORDER BY unit_id, question_id", nil},
		{"SELECT * FROM release_dimensions WHERE round_id = " + id + " ORDER BY unit_id, dimension", nil},
		{"SELECT round_id, unit_id, text, status FROM release_comments WHERE round_id = " + id + " ORDER BY unit_id, text", nil},
	} {
		a, b := dump(t, db, q.sql, q.drop...), dump(t, rdb, q.sql, q.drop...)
		if a != b {
			t.Errorf("%s differs:\noriginal %s\nrestored %s", q.sql, a, b)
		}
		if a == "null" || a == "[]" {
			t.Errorf("%s is empty", q.sql)
		}
	}
}

func TestPgConnectionKeepsThePasswordOffTheCommandLine(t *testing.T) {
	for _, c := range []struct{ in, conn, password string }{
		{"postgres://pulse:s3cret@db:5432/pulse?sslmode=disable", "postgres://pulse@db:5432/pulse?sslmode=disable", "s3cret"},
		{"postgresql://pulse@db/pulse?password=s3cret&sslmode=require", "postgresql://pulse@db/pulse?sslmode=require", "s3cret"},
		{"postgres://pulse@db/pulse", "postgres://pulse@db/pulse", ""},
	} {
		conn, env, err := pgConnection(c.in)
		if err != nil {
			t.Fatal(err)
		}
		if conn != c.conn {
			t.Errorf("%s: connection %q, want %q", c.in, conn, c.conn)
		}
		got := ""
		for _, e := range env {
			if v, ok := strings.CutPrefix(e, "PGPASSWORD="); ok {
				got = v
			}
		}
		if c.password != "" && got != c.password {
			t.Errorf("%s: PGPASSWORD %q, want %q", c.in, got, c.password)
		}
	}
}
