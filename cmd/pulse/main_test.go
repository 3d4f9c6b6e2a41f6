package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/pulse-survey/pulse/survey"
	"github.com/pulse-survey/pulse/survey/demo"
	"github.com/pulse-survey/pulse/survey/migrations"
	"github.com/pulse-survey/pulse/survey/surveytest"
)

// syncBuffer is an io.Writer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// target is a fresh database for one test: a SQLite data directory, or a
// new PostgreSQL database when PULSE_TEST_DATABASE_URL is set.
type target struct {
	args []string // the flags that select it
	dir  string   // the data directory (always set, so nothing lands in ./data)
	url  string   // the PostgreSQL URL, or ""
}

func newTarget(t *testing.T) target {
	t.Helper()
	dir := t.TempDir()
	o := surveytest.NewDatabase(t)
	if o.URL != "" {
		return target{args: []string{"--data-dir", dir, "--database-url", o.URL}, dir: dir, url: o.URL}
	}
	return target{args: []string{"--data-dir", dir}, dir: dir}
}

// opts says how to open the target directly; the demo has its own SQLite file.
func (tg target) opts(demoDB bool) survey.DBOptions {
	if tg.url != "" {
		return survey.DBOptions{URL: tg.url}
	}
	name := "pulse.db"
	if demoDB {
		name = "demo.db"
	}
	return survey.DBOptions{SQLitePath: filepath.Join(tg.dir, name)}
}

func openDB(t *testing.T, o survey.DBOptions) *gorm.DB {
	t.Helper()
	db, err := survey.OpenDB(context.Background(), o)
	if err != nil {
		t.Fatalf("open %+v: %v", o, err)
	}
	t.Cleanup(func() { closeDB(db) })
	return db
}

func closeDB(db *gorm.DB) {
	if sqlDB, err := db.DB(); err == nil {
		sqlDB.Close()
	}
}

// freePort returns a port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	return port
}

func TestVersion(t *testing.T) {
	r := runPulse(t, nil, "version")
	if r.code != 0 || r.stdout != "pulse dev\n" || r.stderr != "" {
		t.Errorf("version: exit %d, stdout %q, stderr %q; want 0, %q, nothing", r.code, r.stdout, r.stderr, "pulse dev\n")
	}
}

func TestMigrate(t *testing.T) {
	tg := newTarget(t)
	if tg.url == "" {
		// The data directory does not exist yet: migrate creates it.
		tg.dir = filepath.Join(tg.dir, "nested", "data")
		tg.args = []string{"--data-dir", tg.dir}
	}
	want := "database is at schema " + migrations.Latest() + "\n"
	for i := 1; i <= 2; i++ {
		r := runPulse(t, nil, append([]string{"migrate"}, tg.args...)...)
		if r.code != 0 {
			t.Fatalf("migrate run %d: exit %d; stderr:\n%s", i, r.code, r.stderr)
		}
		if r.stdout != want {
			t.Errorf("migrate run %d: stdout %q, want %q", i, r.stdout, want)
		}
		if r.stderr != "" {
			t.Errorf("migrate run %d: stderr %q, want nothing at the default log level", i, r.stderr)
		}
	}
	if tg.url == "" {
		if _, err := os.Stat(filepath.Join(tg.dir, "pulse.db")); err != nil {
			t.Errorf("migrate did not create pulse.db in the data dir: %v", err)
		}
	}
	db := openDB(t, tg.opts(false))
	var n int64
	if err := db.Table("schema_migrations").Where("id = ?", migrations.Latest()).Count(&n).Error; err != nil || n != 1 {
		t.Errorf("schema_migrations has %d row(s) for %s (err %v), want 1", n, migrations.Latest(), err)
	}
	// Migrating again is a no-op on an up-to-date database, also directly.
	if err := migrations.Up(context.Background(), db); err != nil {
		t.Errorf("migrations.Up after migrate: %v", err)
	}
}

func TestUnreachablePostgres(t *testing.T) {
	for name, url := range map[string]string{
		"password in userinfo": "postgres://nobody:s3cret@127.0.0.1:1/x?sslmode=disable&connect_timeout=2",
		// libpq and pgx also take the password as a query parameter.
		"password in query": "postgres://nobody@127.0.0.1:1/x?sslmode=disable&connect_timeout=2&password=s3cret",
	} {
		t.Run(name, func(t *testing.T) {
			env := map[string]string{"PULSE_DATABASE_URL": url, "PULSE_DATA_DIR": t.TempDir()}
			// The guard is a deadline for the test, not a timing assertion.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			done := make(chan result, 1)
			go func() { done <- runPulseCtx(t, ctx, env, "migrate") }()
			var r result
			select {
			case r = <-done:
			case <-time.After(45 * time.Second):
				t.Fatal("migrate against an unreachable PostgreSQL did not return")
			}
			if r.code != 1 {
				t.Errorf("exit code %d, want 1; stderr:\n%s", r.code, r.stderr)
			}
			checkOneLine(t, "unreachable PostgreSQL", r.stderr)
			if !strings.Contains(r.stderr, "PostgreSQL") {
				t.Errorf("the error does not mention PostgreSQL: %q", r.stderr)
			}
			if strings.Contains(r.stderr+r.stdout, "s3cret") {
				t.Errorf("the output leaks the database password: %q", r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
		})
	}
}

func TestCorruptSQLite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pulse.db")
	garbage := bytes.Repeat([]byte("not a database "), 8192/15+1)[:8192]
	if err := os.WriteFile(path, garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	r := runPulse(t, nil, "migrate", "--data-dir", dir)
	if r.code != 1 {
		t.Errorf("exit code %d, want 1; stderr:\n%s", r.code, r.stderr)
	}
	checkOneLine(t, "corrupt SQLite", r.stderr)
	if !strings.Contains(r.stderr, path) {
		t.Errorf("the error does not name the file %s: %q", path, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("stdout = %q, want nothing", r.stdout)
	}
	// The user's file is left as it was, so it can be inspected or restored.
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, garbage) {
		t.Errorf("the corrupt file was modified or removed (err %v)", err)
	}
}

func TestDataDirUncreatable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"migrate", "demo"} {
		r := runPulse(t, nil, cmd, "--data-dir", filepath.Join(file, "sub"))
		if r.code != 1 && r.code != 2 {
			t.Errorf("%s: exit code %d, want 1 or 2; stderr:\n%s", cmd, r.code, r.stderr)
		}
		checkOneLine(t, cmd+" with an uncreatable data dir", r.stderr)
		if !strings.Contains(r.stderr, file) {
			t.Errorf("%s: the error does not name the path: %q", cmd, r.stderr)
		}
		if r.stdout != "" {
			t.Errorf("%s: stdout = %q, want nothing", cmd, r.stdout)
		}
	}
}

type demoLogin struct{ role, password string }

// demoLogins reads the account table that the demo prints.
func demoLogins(stdout string) map[string]demoLogin {
	out := map[string]demoLogin{}
	for _, line := range strings.Split(stdout, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && strings.HasSuffix(f[1], "@"+demo.Domain) {
			out[f[1]] = demoLogin{role: f[0], password: f[2]}
		}
	}
	return out
}

func checkDemoOutput(t *testing.T, run int, r result) map[string]demoLogin {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("demo run %d: exit %d; stderr:\n%s", run, r.code, r.stderr)
	}
	logins := demoLogins(r.stdout)
	hr, ok := logins["hr@northwind.example"]
	if !ok || hr.role != string(survey.RoleAdmin) {
		t.Errorf("demo run %d: no admin line for hr@northwind.example in:\n%s", run, r.stdout)
	}
	leaders := 0
	for email, l := range logins {
		if l.role == string(survey.RoleLeader) {
			leaders++
		}
		if len(l.password) < 12 {
			t.Errorf("demo run %d: %s has a short or missing password %q", run, email, l.password)
		}
	}
	if leaders < 5 {
		t.Errorf("demo run %d: %d leader accounts listed, want at least 5:\n%s", run, leaders, r.stdout)
	}
	if !strings.Contains(r.stdout, "/login") {
		t.Errorf("demo run %d: stdout does not say where to sign in:\n%s", run, r.stdout)
	}
	return logins
}

func TestDemo(t *testing.T) {
	tg := newTarget(t)
	args := append([]string{"demo"}, tg.args...)
	first := checkDemoOutput(t, 1, runPulse(t, nil, args...))
	second := checkDemoOutput(t, 2, runPulse(t, nil, args...))
	if len(first) != len(second) {
		t.Errorf("the second run lists %d accounts, the first %d", len(second), len(first))
	}
	for email, l := range first {
		if second[email].password == l.password {
			t.Errorf("%s: the password was not reset by the second run", email)
		}
	}

	ctx := context.Background()
	if tg.url == "" {
		if _, err := os.Stat(filepath.Join(tg.dir, "pulse.db")); err == nil {
			t.Errorf("demo wrote pulse.db; the demo must use its own demo.db")
		}
	}
	db := openDB(t, tg.opts(true))
	svc := survey.New(db, survey.Options{})

	hr := "hr@northwind.example"
	if _, err := svc.Accounts.Authenticate(ctx, hr, second[hr].password); err != nil {
		t.Errorf("the printed password for %s does not sign in: %v", hr, err)
	}
	if _, err := svc.Accounts.Authenticate(ctx, hr, first[hr].password); !errors.Is(err, survey.ErrInvalidCredentials) {
		t.Errorf("the first run's password for %s still works (err %v)", hr, err)
	}

	var active int64
	if err := db.Model(&survey.Person{}).Where("active = ?", true).Count(&active).Error; err != nil {
		t.Fatal(err)
	}
	if active < 140 || active > 160 {
		t.Errorf("%d active people, want about 150 (140..160)", active)
	}

	tree, err := svc.Org.Tree(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tree.Root == nil {
		t.Fatal("no root team")
	}
	var depts []*survey.TeamNode
	for _, c := range tree.Root.Children {
		if c.ArchivedAt == nil {
			depts = append(depts, c)
		}
	}
	if len(depts) != 3 {
		t.Errorf("%d departments under the root, want 3", len(depts))
	}
	below := 0
	for _, d := range depts {
		below += len(tree.Subtree(d.ID)) - 1
	}
	if below < 11 {
		t.Errorf("%d teams below the departments, want at least 11", below)
	}
	// Active people per team, its sub-teams included (what a report sees).
	var small []string
	for _, n := range tree.Order {
		total := 0
		for _, id := range tree.Subtree(n.ID) {
			total += tree.ByID[id].People
		}
		if total < 5 {
			small = append(small, n.Path)
		}
	}
	if len(small) != 1 {
		t.Errorf("teams with fewer than 5 active people: %q, want exactly one (to show suppression)", small)
	}

	programs, err := svc.Programs.Programs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(programs) != 1 {
		t.Errorf("%d programs, want 1 (a second run must not add another)", len(programs))
	}
	found := false
	for _, p := range programs {
		found = found || (p.Cadence == survey.CadenceWeeks && p.IntervalWeeks == 2)
	}
	if !found {
		t.Errorf("no program every 2 weeks among %+v", programs)
	}

	st, err := svc.Org.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.MinGroupSize != 5 {
		t.Errorf("MinGroupSize %d, want 5", st.MinGroupSize)
	}
}

func TestDemoRefusesNonDemoOrg(t *testing.T) {
	ctx := context.Background()
	tg := newTarget(t)
	db := openDB(t, tg.opts(true))
	if err := migrations.Up(ctx, db); err != nil {
		t.Fatal(err)
	}
	svc := survey.New(db, survey.Options{BcryptCost: 4})
	if _, err := svc.Org.Init(ctx, survey.SettingsInput{Name: "Acme", TimeZone: "UTC", MinGroupSize: 5}); err != nil {
		t.Fatal(err)
	}

	r := runPulse(t, nil, append([]string{"demo"}, tg.args...)...)
	if r.code != 1 {
		t.Errorf("exit code %d, want 1; stderr:\n%s", r.code, r.stderr)
	}
	checkOneLine(t, "demo over a real organisation", r.stderr)
	if !strings.Contains(r.stderr, "demo") {
		t.Errorf("the error does not explain the demo conflict: %q", r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("stdout = %q, want nothing", r.stdout)
	}

	if _, err := svc.Accounts.UserByEmail(ctx, demo.AdminEmail); !errors.Is(err, survey.ErrNotFound) {
		t.Errorf("the demo admin was created in a real organisation (err %v)", err)
	}
	if st, err := svc.Org.Settings(ctx); err != nil || st.Name != "Acme" {
		t.Errorf("the organisation changed: %+v, %v", st, err)
	}
}

// get fetches url with a short timeout and returns the status and body.
func get(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

// server is `pulse serve` running in the background of one test.
type server struct {
	base           string
	stdout, stderr *syncBuffer
	cancel         context.CancelFunc
	done           chan int // serve's exit status
	exited         bool
}

// startServe runs `pulse serve` on a free port with the target's flags and
// extra args; cleanup stops it.
func startServe(t *testing.T, tg target, extra ...string) *server {
	t.Helper()
	addr := "127.0.0.1:" + freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{base: "http://" + addr, stdout: &syncBuffer{}, stderr: &syncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	args := append(append([]string{"serve", "--addr", addr}, tg.args...), extra...)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				t.Errorf("serve panicked: %v", p)
				s.done <- -1
			}
		}()
		s.done <- run(ctx, args, envOf(nil), s.stdout, s.stderr)
	}()
	t.Cleanup(func() {
		cancel()
		if !s.exited {
			select {
			case <-s.done:
			case <-time.After(20 * time.Second):
				t.Error("serve did not stop after cleanup")
			}
		}
	})
	return s
}

// stop cancels serve's context and returns its exit status.
func (s *server) stop(t *testing.T) int {
	t.Helper()
	s.cancel()
	select {
	case code := <-s.done:
		s.exited = true
		return code
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not return after its context was cancelled")
		return -1
	}
}

// waitReady waits, at most about 10 s, for /readyz to answer 200.
func (s *server) waitReady(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case code := <-s.done:
			s.exited = true
			t.Fatalf("serve exited early with %d; stderr:\n%s", code, s.stderr.String())
		default:
		}
		if code, _, _ := get(t, s.base+"/readyz"); code == http.StatusOK {
			return
		}
	}
	t.Fatalf("GET /readyz never returned 200; stderr:\n%s", s.stderr.String())
}

func TestServe(t *testing.T) {
	tg := newTarget(t)
	srv := startServe(t, tg)
	base, stdout := srv.base, srv.stdout
	addr := strings.TrimPrefix(base, "http://")
	srv.waitReady(t)

	// The setup link follows readiness within moments.
	linkRE := regexp.MustCompile(regexp.QuoteMeta(base) + `/setup/[A-Za-z0-9_-]+`)
	link := ""
	for deadline := time.Now().Add(10 * time.Second); link == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		link = linkRE.FindString(stdout.String())
	}
	if link == "" {
		t.Fatalf("stdout has no one-time setup link %s/setup/<token>:\n%s", base, stdout.String())
	}

	code, header, body := get(t, link)
	if code != http.StatusOK {
		t.Errorf("GET %s: %d, want 200", link, code)
	}
	if ct := header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("GET %s: Content-Type %q, want an HTML page", link, ct)
	}
	if !strings.Contains(body, "<form") {
		t.Errorf("GET %s: the setup page has no form", link)
	}
	// The home page of a fresh, non-demo instance (it once answered 500).
	if code, _, body := get(t, base+"/"); code != http.StatusOK {
		t.Errorf("GET / on a non-demo server: %d, want 200; body:\n%.300s", code, body)
	}
	if code, _, _ := get(t, base+"/setup/not-a-real-token"); code == http.StatusOK {
		t.Errorf("GET /setup/<wrong token>: 200, want an error status")
	}

	if r := runPulse(t, map[string]string{"PULSE_ADDR": addr}, "healthcheck"); r.code != 0 {
		t.Errorf("healthcheck against the running server: exit %d; stderr:\n%s", r.code, r.stderr)
	}

	if code := srv.stop(t); code != 0 {
		t.Errorf("serve returned %d after cancel, want 0 (graceful shutdown); stderr:\n%s", code, srv.stderr.String())
	}

	// After shutdown the port is closed: the healthcheck fails.
	r := runPulse(t, map[string]string{"PULSE_ADDR": addr}, "healthcheck")
	if r.code != 1 {
		t.Errorf("healthcheck after shutdown: exit %d, want 1", r.code)
	}
}

// TestShutdownSlowClient: a client that never finishes its request does
// not turn a requested stop into a failure. Serve waits out the grace
// period, cuts the connection and exits 0.
func TestShutdownSlowClient(t *testing.T) {
	srv := startServe(t, newTarget(t), "--shutdown-grace", "1s")
	srv.waitReady(t)

	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Headers announce a body that never fully arrives: the request stays
	// in flight.
	fmt.Fprintf(conn, "POST /login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nemail=a", strings.TrimPrefix(srv.base, "http://"))
	// Wait until the server has the request (it cannot answer before the body ends).
	time.Sleep(300 * time.Millisecond)

	if code := srv.stop(t); code != 0 {
		t.Errorf("serve returned %d with a slow client connected, want 0; stderr:\n%s", code, srv.stderr.String())
	}
	if !strings.Contains(srv.stderr.String()+srv.stdout.String(), "cut off") {
		t.Errorf("the log does not say that a request was cut off:\n%s", srv.stderr.String())
	}
	// The cut connection is closed by the server.
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(conn); err != nil {
		t.Errorf("reading the cut connection: %v, want EOF", err)
	}
}

func TestHealthcheckClosedPort(t *testing.T) {
	addr := "127.0.0.1:" + freePort(t)
	r := runPulse(t, map[string]string{"PULSE_ADDR": addr}, "healthcheck")
	if r.code != 1 {
		t.Errorf("healthcheck at a closed port: exit %d, want 1", r.code)
	}
	checkOneLine(t, "healthcheck at a closed port", r.stderr)
	if r.stdout != "" {
		t.Errorf("stdout = %q, want nothing", r.stdout)
	}
}
