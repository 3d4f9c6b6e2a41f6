package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"gorm.io/gorm"

	"github.com/pulse-survey/pulse/survey"
	"github.com/pulse-survey/pulse/survey/migrations"
)

const backupUsage = `Usage: pulse backup FILE [flags]
       pulse restore FILE [flags]

backup writes a consistent copy of the database to FILE while Pulse keeps
running: SQLite's VACUUM INTO, or pg_dump (custom format) on PostgreSQL,
which must be at least as new as the server. FILE must not exist yet.

restore fills an EMPTY instance (no Pulse tables yet) from such a file and
then migrates it to this version's schema. It refuses a database that
already holds tables.

Neither holds the instance secret key: keep that file apart from the
database backups (see Backups in the README).

Configuration flags (e.g. --data-dir, --database-url) follow FILE; see pulse serve -h.
`

// backupArgs takes FILE out of the arguments of pulse backup or restore;
// the rest are configuration flags.
func backupArgs(cmd string, args []string) (file string, rest []string, err error) {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		return "", nil, flagHelp
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") || args[0] == "" {
		return "", nil, fmt.Errorf("%s: name the file first: pulse %s FILE [flags]", cmd, cmd)
	}
	return args[0], args[1:], nil
}

// flagHelp asks for the usage text.
var flagHelp = errors.New("help")

// sqliteMagic opens every SQLite database file; pgdumpMagic opens a
// pg_dump custom-format archive.
const (
	sqliteMagic = "SQLite format 3\x00"
	pgdumpMagic = "PGDMP"
)

// backup writes a consistent copy of the configured database to file.
// The copy is written to a temporary file beside file and renamed only
// when complete, so a failed backup never leaves a partial file there.
func backup(ctx context.Context, cfg *Config, file string, out, _ io.Writer) error {
	if _, err := os.Lstat(file); err == nil {
		return fmt.Errorf("backup: %s already exists: choose a new file name (a backup never overwrites a file)", file)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("backup: %v", err)
	}
	if cfg.DatabaseURL == "" {
		if _, err := os.Stat(cfg.SQLitePath()); err != nil {
			return fmt.Errorf("backup: there is no database at %s: nothing to back up (check --data-dir or PULSE_DATA_DIR)", cfg.SQLitePath())
		}
	}
	db, err := survey.OpenDB(ctx, cfg.DBOptions())
	if err != nil {
		return fmt.Errorf("backup: %v", err)
	}
	defer closeGorm(db)
	schema, err := schemaOf(ctx, db)
	if err != nil {
		return fmt.Errorf("backup: %v", err)
	}
	if len(schema) == 0 {
		return fmt.Errorf("backup: the database has no Pulse schema (run pulse migrate or pulse serve first): nothing to back up")
	}

	tmp, err := os.CreateTemp(filepath.Dir(file), ".pulse-backup-*.tmp")
	if err != nil {
		return fmt.Errorf("backup: cannot write in %s: %v", filepath.Dir(file), err)
	}
	tmpName := tmp.Name()
	tmp.Close()
	done := false
	defer func() {
		if !done {
			os.Remove(tmpName)
		}
	}()

	var what string
	if db.Dialector.Name() == "postgres" {
		ver, err := pgDump(ctx, db, cfg.DatabaseURL, tmpName)
		if err != nil {
			return fmt.Errorf("backup: %v", err)
		}
		what = "pg_dump " + ver + " custom-format archive"
	} else {
		// VACUUM INTO reads one snapshot (a read transaction, which in WAL
		// mode never blocks the server's writers) and writes it compacted:
		// rows deleted before the snapshot are not carried into the copy.
		if err := db.WithContext(ctx).Exec("VACUUM INTO ?", tmpName).Error; err != nil {
			return fmt.Errorf("backup: VACUUM INTO failed: %v", err)
		}
		if err := checkSQLiteCopy(ctx, tmpName); err != nil {
			return fmt.Errorf("backup: the copy failed its check: %v", err)
		}
		what = "SQLite database"
	}
	if err := syncFile(tmpName); err != nil {
		return fmt.Errorf("backup: %v", err)
	}
	if err := placeNew(tmpName, file); err != nil {
		return fmt.Errorf("backup: %v", err)
	}
	done = true
	fi, _ := os.Stat(file)
	var size int64
	if fi != nil {
		size = fi.Size()
	}
	fmt.Fprintf(out, "backed up the database (schema %s) to %s: %s, %d bytes\n", schema[len(schema)-1], file, what, size)
	fmt.Fprintln(out, "the instance secret key is not in the backup: keep its file backed up apart from the database backups")
	return nil
}

// restore fills the configured, empty database from a backup and
// migrates it forward.
func restore(ctx context.Context, cfg *Config, file string, out, errOut io.Writer) error {
	head := make([]byte, len(sqliteMagic))
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("restore: cannot read the backup: %v", err)
	}
	n, _ := io.ReadFull(f, head)
	f.Close()
	head = head[:n]
	isSQLite := bytes.Equal(head, []byte(sqliteMagic))
	isDump := bytes.HasPrefix(head, []byte(pgdumpMagic))
	switch {
	case !isSQLite && !isDump:
		return fmt.Errorf("restore: %s is not a Pulse backup (neither a SQLite database nor a pg_dump custom-format archive)", file)
	case isSQLite && cfg.DatabaseURL != "":
		return fmt.Errorf("restore: %s is a SQLite backup but this instance uses PostgreSQL (PULSE_DATABASE_URL): restore it into an instance without a database URL", file)
	case isDump && cfg.DatabaseURL == "":
		return fmt.Errorf("restore: %s is a PostgreSQL backup but this instance uses SQLite: set PULSE_DATABASE_URL (or --database-url) to an empty PostgreSQL database", file)
	}
	var from, to string
	if isSQLite {
		from, to, err = restoreSQLite(ctx, cfg, file)
	} else {
		from, to, err = restorePostgres(ctx, cfg, file)
	}
	if err != nil {
		return fmt.Errorf("restore: %v", err)
	}
	where := cfg.SQLitePath()
	if isDump {
		where = survey.RedactURL(cfg.DatabaseURL)
	}
	if from == to {
		fmt.Fprintf(out, "restored %s into %s (schema %s)\n", file, where, to)
	} else {
		fmt.Fprintf(out, "restored %s into %s and migrated it from schema %s to %s\n", file, where, from, to)
	}
	checkRestoredKey(ctx, cfg, out, errOut)
	return nil
}

// checkRestoredKey tells whether the instance's secret key file opens the
// keys of the rounds that were open in the backup. It never creates the
// file: a new key would silently break those rounds' links and tokens.
func checkRestoredKey(ctx context.Context, cfg *Config, out, errOut io.Writer) {
	key := cfg.KeyFile()
	db, err := survey.OpenDB(ctx, cfg.DBOptions())
	if err != nil {
		fmt.Fprintf(errOut, "pulse: warning: cannot check the secret key file against the restored database: %v\n", err)
		return
	}
	defer closeGorm(db)
	var keys *survey.Keyring
	_, statErr := os.Stat(key)
	if statErr == nil {
		if keys, _, err = loadKeyring(key); err != nil {
			fmt.Fprintf(errOut, "pulse: warning: %v\n", err)
			return
		}
	}
	n, err := survey.New(db, survey.Options{Keyring: keys}).Rounds.CheckKeyring(ctx)
	switch {
	case n == 0 && err == nil:
		fmt.Fprintf(out, "no round was open in the backup; start Pulse with the original instance's secret key file all the same (%s here)\n", key)
	case err == nil:
		fmt.Fprintf(out, "the secret key file %s opens the keys of the %d open round(s) in the backup\n", key, n)
	case statErr != nil:
		fmt.Fprintf(errOut, "pulse: warning: the backup has %d open round(s) and there is no secret key file at %s: put the original instance's secret key file there before starting Pulse, or those rounds cannot issue tokens and their links stop working\n", n, key)
	case errors.Is(err, survey.ErrWrongKeyring):
		fmt.Fprintf(errOut, "pulse: warning: the secret key file %s does not open the keys of the backup's open rounds (%v): start Pulse with the original instance's secret key file, or those rounds cannot issue tokens and their links stop working\n", key, err)
	default:
		fmt.Fprintf(errOut, "pulse: warning: cannot check the secret key file against the restored database: %v\n", err)
	}
}

// restoreSQLite copies the backup beside the instance's database file,
// checks and migrates the copy, and only then moves it into place.
func restoreSQLite(ctx context.Context, cfg *Config, file string) (from, to string, err error) {
	target := cfg.SQLitePath()
	if err := sqliteTargetEmpty(ctx, target); err != nil {
		return "", "", err
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		return "", "", fmt.Errorf("cannot create data directory %s: %v", filepath.Dir(target), err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(target), ".pulse-restore-*.db")
	if err != nil {
		return "", "", fmt.Errorf("cannot write in %s: %v", filepath.Dir(target), err)
	}
	tmpName := tmp.Name()
	done := false
	defer func() {
		if !done {
			removeSQLite(tmpName)
		}
	}()
	src, err := os.Open(file)
	if err != nil {
		tmp.Close()
		return "", "", err
	}
	_, err = io.Copy(tmp, src)
	src.Close()
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", "", fmt.Errorf("cannot copy the backup into %s: %v", filepath.Dir(target), err)
	}

	db, err := survey.OpenDB(ctx, survey.DBOptions{SQLitePath: tmpName, MaxOpenConns: 1})
	if err != nil {
		return "", "", fmt.Errorf("%s is not a usable SQLite database", file)
	}
	from, to, err = func() (string, string, error) {
		defer closeGorm(db)
		var res string
		if err := db.WithContext(ctx).Raw("PRAGMA quick_check").Row().Scan(&res); err != nil || res != "ok" {
			return "", "", fmt.Errorf("%s failed SQLite's check (%s): it is damaged", file, firstNonEmpty(res, errString(err)))
		}
		from, err := knownSchema(ctx, db, file)
		if err != nil {
			return "", "", err
		}
		if err := migrations.Up(ctx, db); err != nil {
			return "", "", fmt.Errorf("migrating the restored database failed: %v", err)
		}
		// Fold the write-ahead log into the file, so the file alone is
		// the whole database when it is moved into place.
		if err := db.WithContext(ctx).Exec("PRAGMA wal_checkpoint(TRUNCATE)").Error; err != nil {
			return "", "", err
		}
		if err := db.WithContext(ctx).Exec("PRAGMA journal_mode=DELETE").Error; err != nil {
			return "", "", err
		}
		return from, migrations.Latest(), nil
	}()
	if err != nil {
		return "", "", err
	}
	for _, suffix := range []string{"-wal", "-journal"} {
		if fi, err := os.Stat(tmpName + suffix); err == nil && fi.Size() > 0 {
			return "", "", fmt.Errorf("the restored copy still has a %s file; nothing was changed", suffix)
		}
	}
	removeSQLite(tmpName + "-shm")
	if err := syncFile(tmpName); err != nil {
		return "", "", err
	}
	// Checked empty above; an empty file there is replaced, anything that
	// appeared since is not.
	if err := sqliteTargetEmpty(ctx, target); err != nil {
		return "", "", err
	}
	if err := os.Rename(tmpName, target); err != nil {
		return "", "", err
	}
	done = true
	removeSQLite(tmpName)
	syncDir(filepath.Dir(target))
	return from, to, nil
}

// sqliteTargetEmpty refuses a database file that holds any table, or a
// write-ahead log that may belong to one.
func sqliteTargetEmpty(ctx context.Context, target string) error {
	fi, err := os.Stat(target)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err == nil && fi.Size() > 0 {
		db, err := survey.OpenDB(ctx, survey.DBOptions{SQLitePath: target, MaxOpenConns: 1})
		if err != nil {
			return fmt.Errorf("the instance already has a database file that is not empty (%v); restore only into an empty instance", err)
		}
		tables, err := tablesOf(ctx, db)
		if err == nil && len(tables) > 0 {
			err = notEmpty(ctx, db, target, tables, "move it away (keep it) or choose an empty --data-dir")
		}
		closeGorm(db)
		if err != nil {
			return err
		}
	}
	for _, suffix := range []string{"-wal", "-journal"} {
		if fi, err := os.Stat(target + suffix); err == nil && fi.Size() > 0 {
			return fmt.Errorf("%s%s exists: the instance's database is in use or was not closed cleanly; restore only into an empty instance", target, suffix)
		}
	}
	return nil
}

// restorePostgres loads a pg_dump archive into the configured, empty
// PostgreSQL database in one transaction and migrates it.
func restorePostgres(ctx context.Context, cfg *Config, file string) (from, to string, err error) {
	db, err := survey.OpenDB(ctx, cfg.DBOptions())
	if err != nil {
		return "", "", err
	}
	defer closeGorm(db)
	tables, err := tablesOf(ctx, db)
	if err != nil {
		return "", "", err
	}
	if len(tables) > 0 {
		return "", "", notEmpty(ctx, db, survey.RedactURL(cfg.DatabaseURL), tables, "create a new, empty database and point PULSE_DATABASE_URL at it")
	}
	pgRestore, err := pgTool("pg_restore")
	if err != nil {
		return "", "", err
	}
	list, err := runTool(ctx, pgRestore.path, nil, "--list", file)
	if err != nil {
		return "", "", fmt.Errorf("pg_restore cannot read %s: %v", file, err)
	}
	if m := regexp.MustCompile(`(?m)^;\s+Dumped by pg_dump version: (\d+)(?:\.(\d+))?`).FindStringSubmatch(string(list)); m != nil {
		if v := pgMajor(m[1], m[2]); v > pgRestore.major {
			return "", "", fmt.Errorf("%s was written by pg_dump %s but %s is version %s: install the PostgreSQL %s client tools (or newer) and put them first on PATH",
				file, majorString(v), pgRestore.path, majorString(pgRestore.major), majorString(v))
		}
	}
	if !regexp.MustCompile(`(?m) TABLE DATA \S+ schema_migrations `).Match(list) {
		return "", "", fmt.Errorf("%s is a PostgreSQL archive but not of a Pulse database (it has no schema_migrations table)", file)
	}
	data, err := runTool(ctx, pgRestore.path, nil, "--data-only", "--table=schema_migrations", "--file=-", file)
	if err != nil {
		return "", "", fmt.Errorf("pg_restore cannot read %s: %v", file, err)
	}
	ids := copyRows(data, "schema_migrations")
	from, err = checkSchema(ids, file)
	if err != nil {
		return "", "", err
	}
	conn, env, err := pgConnection(cfg.DatabaseURL)
	if err != nil {
		return "", "", err
	}
	// One transaction: a restore that fails leaves the database empty.
	if _, err := runTool(ctx, pgRestore.path, env, "--exit-on-error", "--single-transaction", "--no-owner", "--no-acl",
		"--dbname="+conn, file); err != nil {
		return "", "", fmt.Errorf("pg_restore failed, nothing was restored: %v", err)
	}
	if err := migrations.Up(ctx, db); err != nil {
		return "", "", fmt.Errorf("the backup was restored but migrating it failed: %v", err)
	}
	return from, migrations.Latest(), nil
}

// notEmpty explains why a restore target is refused.
func notEmpty(ctx context.Context, db *gorm.DB, where string, tables []string, advice string) error {
	if schema, err := schemaOf(ctx, db); err == nil && len(schema) > 0 {
		return fmt.Errorf("%s already holds a Pulse database (schema %s): restore only fills an empty instance; %s", where, schema[len(schema)-1], advice)
	}
	return fmt.Errorf("%s already holds tables (%s): restore only fills an empty instance; %s", where, strings.Join(tables, ", "), advice)
}

// tablesOf lists up to five tables of the database, beyond the system's.
func tablesOf(ctx context.Context, db *gorm.DB) ([]string, error) {
	q := "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name LIMIT 5"
	if db.Dialector.Name() == "postgres" {
		q = `SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
			AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%' ORDER BY 1 LIMIT 5`
	}
	var names []string
	if err := db.WithContext(ctx).Raw(q).Scan(&names).Error; err != nil {
		return nil, fmt.Errorf("cannot list the tables of the database: %v", err)
	}
	return names, nil
}

// schemaOf returns the applied migrations, or nothing when the database
// has no schema_migrations table.
func schemaOf(ctx context.Context, db *gorm.DB) ([]string, error) {
	if !db.WithContext(ctx).Migrator().HasTable("schema_migrations") {
		return nil, nil
	}
	ids, err := migrations.Applied(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("cannot read the schema version: %v", err)
	}
	return ids, nil
}

// knownSchema checks that db is a Pulse database this version can migrate
// and returns its schema version.
func knownSchema(ctx context.Context, db *gorm.DB, file string) (string, error) {
	ids, err := schemaOf(ctx, db)
	if err != nil {
		return "", err
	}
	return checkSchema(ids, file)
}

func checkSchema(ids []string, file string) (string, error) {
	if len(ids) == 0 {
		return "", fmt.Errorf("%s is not a Pulse backup: it has no schema version (schema_migrations is missing or empty)", file)
	}
	for _, id := range ids {
		if !migrations.Known(id) {
			return "", fmt.Errorf("%s comes from a newer Pulse (it has migration %s, this version knows up to %s): restore it with that version or a newer one", file, id, migrations.Latest())
		}
	}
	latest := ids[0]
	for _, id := range ids {
		if id > latest {
			latest = id
		}
	}
	return latest, nil
}

// copyRows returns the first column of the rows of table in a plain SQL
// script from pg_restore (its COPY ... FROM stdin block).
func copyRows(script []byte, table string) []string {
	var out []string
	in := false
	sc := bufio.NewScanner(bytes.NewReader(script))
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	head := regexp.MustCompile(`^COPY (?:\S+\.)?"?` + regexp.QuoteMeta(table) + `"? .*FROM stdin;$`)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !in && head.MatchString(line):
			in = true
		case in && line == `\.`:
			return out
		case in:
			col, _, _ := strings.Cut(line, "\t")
			out = append(out, col)
		}
	}
	return out
}

// checkSQLiteCopy opens a fresh copy and runs SQLite's consistency check.
func checkSQLiteCopy(ctx context.Context, path string) error {
	db, err := survey.OpenDB(ctx, survey.DBOptions{SQLitePath: path, MaxOpenConns: 1})
	if err != nil {
		return err
	}
	defer func() {
		closeGorm(db)
		// Opening it in WAL mode made these; the copy is the file alone.
		removeSQLite(path + "-wal")
		removeSQLite(path + "-shm")
	}()
	var res string
	if err := db.WithContext(ctx).Raw("PRAGMA quick_check").Row().Scan(&res); err != nil {
		return err
	}
	if res != "ok" {
		return errors.New(res)
	}
	return db.WithContext(ctx).Exec("PRAGMA journal_mode=DELETE").Error
}

// pgDump runs pg_dump against the database into file, after checking that
// pg_dump is at least as new as the server. It returns pg_dump's version.
func pgDump(ctx context.Context, db *gorm.DB, dbURL, file string) (string, error) {
	var num string
	if err := db.WithContext(ctx).Raw("SHOW server_version_num").Scan(&num).Error; err != nil {
		return "", fmt.Errorf("cannot read the PostgreSQL server's version: %v", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(num))
	if err != nil {
		return "", fmt.Errorf("cannot read the PostgreSQL server's version %q", num)
	}
	server := n / 100 // 9.6 and older: 90624 is 906
	if n >= 100000 {
		server = n / 10000 * 100 // 150020 is 1500
	}
	tool, err := pgToolFor("pg_dump", server)
	if err != nil {
		return "", err
	}
	if tool.major < server {
		return "", fmt.Errorf("%s is version %s but the PostgreSQL server is %s: a pg_dump older than the server cannot back it up; install the PostgreSQL %s client tools (or newer) and put them first on PATH",
			tool.path, majorString(tool.major), majorString(server), majorString(server))
	}
	conn, env, err := pgConnection(dbURL)
	if err != nil {
		return "", err
	}
	// One snapshot for the whole dump: it is consistent while Pulse writes.
	if _, err := runTool(ctx, tool.path, env, "--format=custom", "--file="+file, "--dbname="+conn); err != nil {
		return "", fmt.Errorf("pg_dump failed: %v", err)
	}
	head := make([]byte, len(pgdumpMagic))
	if f, err := os.Open(file); err != nil {
		return "", err
	} else if _, err := io.ReadFull(f, head); err != nil || string(head) != pgdumpMagic {
		f.Close()
		return "", fmt.Errorf("%s wrote no custom-format archive", tool.path)
	} else {
		f.Close()
	}
	return majorString(tool.major), nil
}

// pgClient is a PostgreSQL client program and its major version.
type pgClient struct {
	path  string
	major int
}

func pgTool(name string) (pgClient, error) { return pgToolFor(name, 0) }

// pgToolFor finds a PostgreSQL client program on PATH and reads its version.
func pgToolFor(name string, server int) (pgClient, error) {
	want := "the PostgreSQL client tools"
	if server > 0 {
		want = fmt.Sprintf("the PostgreSQL client tools of version %s or newer (Debian/Ubuntu: postgresql-client-%s)", majorString(server), majorString(server))
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return pgClient{}, fmt.Errorf("%s is not on PATH: install %s and run again", name, want)
	}
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return pgClient{}, fmt.Errorf("%s --version failed: %v", path, err)
	}
	m := regexp.MustCompile(`\(PostgreSQL\) (\d+)(?:\.(\d+))?`).FindStringSubmatch(string(out))
	if m == nil {
		return pgClient{}, fmt.Errorf("%s does not look like PostgreSQL's %s (it printed %q): install %s", path, name, strings.TrimSpace(string(out)), want)
	}
	return pgClient{path: path, major: pgMajor(m[1], m[2])}, nil
}

// pgMajor turns a version into a comparable major version: 1500 for
// 15.4, 906 for 9.6 (before 10 the major version had two parts).
func pgMajor(major, minor string) int {
	a, _ := strconv.Atoi(major)
	if a >= 10 {
		return a * 100
	}
	b, _ := strconv.Atoi(minor)
	return a*100 + b
}

func majorString(v int) string {
	if v >= 1000 {
		return strconv.Itoa(v / 100)
	}
	return fmt.Sprintf("%d.%d", v/100, v%100)
}

// pgConnection takes the password out of a database URL and hands it over
// in PGPASSWORD, so it never appears in the client's command line.
func pgConnection(dbURL string) (string, []string, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "", nil, errors.New("the database URL is not a valid URL")
	}
	var password string
	if p, ok := u.User.Password(); ok {
		password = p
		u.User = url.User(u.User.Username())
	}
	q := u.Query()
	for k := range q {
		if strings.EqualFold(k, "password") {
			password = q.Get(k)
			q.Del(k)
		}
	}
	u.RawQuery = q.Encode()
	env := os.Environ()
	if password != "" {
		env = append(env, "PGPASSWORD="+password)
	}
	return u.String(), env, nil
}

// runTool runs a client program and returns its stdout; on failure the
// error carries the last line it printed on stderr.
func runTool(ctx context.Context, path string, env []string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return nil, errors.New(toolError(msg))
		}
		return nil, err
	}
	return stdout.Bytes(), nil
}

// placeNew moves tmp to name unless name exists, on filesystems without
// hard links too.
func placeNew(tmp, name string) error {
	err := os.Link(tmp, name)
	switch {
	case err == nil:
		os.Remove(tmp)
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("%s appeared while the backup ran: it was left alone", name)
	default:
		if _, serr := os.Lstat(name); serr == nil {
			return fmt.Errorf("%s appeared while the backup ran: it was left alone", name)
		}
		if err := os.Rename(tmp, name); err != nil {
			return err
		}
	}
	syncDir(filepath.Dir(name))
	return nil
}

func syncFile(name string) error {
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// removeSQLite removes a database file and what SQLite keeps beside it.
func removeSQLite(name string) {
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		os.Remove(name + suffix)
	}
}

func closeGorm(db *gorm.DB) {
	if sqlDB, err := db.DB(); err == nil {
		sqlDB.Close()
	}
}

// toolError picks the line of a client program's stderr that says what
// went wrong: the first error line, else the last line.
func toolError(s string) string {
	lines := strings.Split(s, "\n")
	for _, l := range lines {
		if strings.Contains(l, "error:") || strings.Contains(l, "FATAL") {
			return strings.TrimSpace(l)
		}
	}
	return strings.TrimSpace(lines[len(lines)-1])
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
