package e2e

import (
	"encoding/csv"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pulse-survey/pulse/survey/surveytest"
)

// TestFirstRound is a customer's first round on a fresh instance, with
// the real `pulse serve` (not the demo) on the test's dialect: the setup
// link from the terminal, the admin's own roster, a program, a launch, the
// links CSV, employees answering on their phones, the close, and the
// report. Every step is a page in Chromium.
func TestFirstRound(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	p := startBinary(t)

	admin := newTab(t, "first-round", desktop)
	admin.navigate(p.setupLink)
	admin.do(
		chromedp.SetValue(chromedp.ID("org_name"), "Harbour Tools"),
		chromedp.SetValue(chromedp.ID("time_zone"), "Europe/Lisbon"),
		chromedp.SetValue(chromedp.ID("min_group_size"), "5"),
		chromedp.SetValue(chromedp.ID("name"), "Hana Admin"),
		chromedp.SetValue(chromedp.ID("email"), "hana@harbour.example"),
		chromedp.SetValue(chromedp.ID("password"), "a long enough passphrase"),
	)
	admin.navigation(chromedp.Click(chromedp.CSS(`main button[type=submit]`)))
	if !strings.HasSuffix(admin.url(), "/admin") {
		t.Fatalf("after setup the browser is on %s, want /admin", admin.url())
	}
	admin.shot("admin-fresh")

	// The home page of a non-demo server (it once answered 500 here).
	if resp := admin.navigate(p.url + "/"); resp == nil || resp.Status != http.StatusOK {
		t.Errorf("home page of a fresh instance: status %v, want 200", statusOf(resp))
	}
	admin.shot("home")
	checkAxe(admin, "home (fresh instance)")

	// The admin's own roster: two teams of six.
	var roster strings.Builder
	roster.WriteString("email,name,team\n")
	for i := 1; i <= 12; i++ {
		team := "Workshop/Assembly"
		if i > 6 {
			team = "Workshop/Finishing"
		}
		fmt.Fprintf(&roster, "person%02d@harbour.example,Person %02d,%s\n", i, i, team)
	}
	file := filepath.Join(t.TempDir(), "harbour.csv")
	if err := os.WriteFile(file, []byte(roster.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	admin.navigate(p.url + "/admin/roster")
	admin.do(chromedp.SetUploadFiles(chromedp.ID("roster-file"), []string{file}))
	admin.navigation(chromedp.Click(chromedp.CSS(`form[action="/admin/roster/preview"] button[type=submit]`)))
	admin.shot("roster-preview")
	admin.navigation(chromedp.Click(chromedp.CSS(`form[action="/admin/roster/apply"] button[type=submit]`)))
	if !strings.Contains(eval[string](admin, `document.querySelector("main").innerText`), "was imported") {
		t.Fatal("the roster was not imported")
	}
	admin.shot("roster-applied")

	// A program with the form's defaults, then a round launched by hand.
	admin.navigate(p.url + "/admin/programs/new")
	admin.do(chromedp.SetValue(chromedp.ID("name"), "Monthly pulse"))
	admin.navigation(chromedp.Click(chromedp.CSS(`form[action="/admin/programs"] button[type=submit]`)))
	admin.shot("program-created")
	// A new program starts paused: tick Active on its page and save.
	admin.do(chromedp.Click(chromedp.CSS(`input[name="active"]`)))
	admin.navigation(chromedp.Click(chromedp.CSS(`form.form[action^="/admin/programs/"] button[type=submit]`)))
	if resp := admin.navigate(p.url + "/admin/rounds"); resp == nil || resp.Status != http.StatusOK {
		t.Fatalf("rounds page: status %v", statusOf(resp))
	}
	launch := `form[action$="/launch"] button[type=submit]`
	if !eval[bool](admin, `!!document.querySelector('`+launch+`')`) {
		admin.shot("no-launch")
		t.Fatal("the rounds page offers no launch for the new program")
	}
	admin.navigation(chromedp.Click(chromedp.CSS(launch)))
	admin.shot("launched")
	delivery := eval[string](admin, `document.querySelector('a[href$="/delivery"]')?.getAttribute("href") || ""`)
	if !regexp.MustCompile(`^/admin/rounds/\d+/delivery$`).MatchString(delivery) {
		t.Fatalf("no delivery link for the launched round (got %q)", delivery)
	}

	// The links, as the admin downloads them from the delivery page.
	admin.navigate(p.url + delivery)
	admin.shot("delivery")
	checkAxe(admin, "delivery (links to download)")
	csvText := eval[string](admin, `(async () => {
		const a = document.querySelector('a[href$="/links.csv"]');
		if (!a) return "";
		const r = await fetch(a.href);
		return r.ok ? await r.text() : "";
	})()`)
	rows, err := csv.NewReader(strings.NewReader(csvText)).ReadAll()
	if err != nil || len(rows) != 13 {
		t.Fatalf("links CSV: %d rows (%v), want a header and 12 links:\n%s", len(rows), err, csvText)
	}

	// Seven employees answer on their phones, each in a browser of their own.
	const answering = 7
	for i, row := range rows[1 : 1+answering] {
		link := row[len(row)-1]
		emp := newTab(t, fmt.Sprintf("employee-%d", i+1), phone)
		emp.navigate(link)
		emp.waitFor("the survey form", `!document.getElementById("pulse-survey").hidden`)
		// The page checks the round's keys and fetches its token while the
		// employee reads; it says when it is ready.
		emp.waitFor("the token", `document.getElementById("survey-status").textContent.includes("token is ready")`)
		if i == 0 {
			emp.shot("survey")
			checkAxe(emp, "survey (fresh instance)")
		}
		eval[bool](emp, fmt.Sprintf(`(() => {
			document.querySelectorAll("fieldset[data-question-id]").forEach((fs, j) => {
				fs.querySelector("input[value='" + (1 + (j + %d) %% 5) + "']").click();
			});
			return true;
		})()`, i))
		// The button's own click (not a click at screen coordinates, which a
		// phone layout still settling can make miss). A page whose token was
		// not ready asks for a second press; an employee would press again.
		send := `(document.querySelector("#pulse-survey button[type=submit]").click(), true)`
		eval[bool](emp, send)
		emp.waitFor("the thank-you or a request to press again", `!document.getElementById("thank-you").hidden ||
			document.getElementById("survey-status").textContent.includes("again")`)
		if eval[bool](emp, `document.getElementById("thank-you").hidden`) {
			t.Logf("employee %d: %q", i+1, eval[string](emp, `document.getElementById("survey-status").textContent`))
			eval[bool](emp, send)
		}
		emp.waitFor("the thank-you", `!document.getElementById("thank-you").hidden`)
		if i == 0 {
			emp.shot("thank-you")
		}
	}

	// The admin closes the round; its results are released.
	admin.navigate(p.url + "/admin/rounds")
	// Closing destroys the round's keys: it asks for a ticked confirmation.
	admin.do(chromedp.Click(chromedp.CSS(`form[action$="/close"] input[name=confirm]`)))
	admin.navigation(chromedp.Click(chromedp.CSS(`form[action$="/close"] button[type=submit]`)))
	admin.shot("closed")

	admin.navigate(p.url + "/dashboard")
	if !regexp.MustCompile(`/reports/\d+$`).MatchString(admin.url()) {
		t.Fatalf("the dashboard led to %s, want a report", admin.url())
	}
	rowsShown := eval[int](admin, `document.querySelectorAll('section[aria-labelledby="h-summary"] tbody tr').length`)
	if rowsShown == 0 {
		t.Errorf("the organisation report shows no scores after the first round closed:\n%s",
			eval[string](admin, `document.querySelector("main").innerText`))
	}
	reportChecks(admin, "report: first round", 1)

	// A requested stop ends cleanly: requests finish and Pulse exits 0.
	if code := p.stop(t); code != 0 {
		t.Errorf("pulse serve exited %d on SIGTERM, want 0; output:\n%s", code, p.out.Tail(30))
	}
}

// binaryServer is the real `pulse serve`, built from this module and run as
// a customer runs it.
type binaryServer struct {
	url, setupLink string
	cmd            *exec.Cmd
	out            *syncBuffer
	exited         chan struct{}
}

// startBinary builds cmd/pulse and serves a fresh instance on the test's
// dialect: a new data directory, and a new PostgreSQL database when the
// suite runs on PostgreSQL.
func startBinary(t *testing.T) *binaryServer {
	t.Helper()
	root, err := surveytest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "pulse")
	build := exec.Command("go", "build", "-o", bin, "./cmd/pulse")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/pulse: %v\n%s", err, out)
	}
	addr := freeAddr(t)
	args := []string{"serve", "--addr", addr, "--data-dir", filepath.Join(dir, "data"), "--shutdown-grace", "5s"}
	if o := surveytest.NewDatabase(t); o.URL != "" {
		args = append(args, "--database-url", o.URL)
	}
	s := &binaryServer{url: "http://" + addr, out: &syncBuffer{}, exited: make(chan struct{})}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Env = cleanEnv()
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		<-s.exited
		if t.Failed() {
			t.Logf("pulse output (last lines):\n%s", s.out.Tail(40))
		}
	})
	linkRE := regexp.MustCompile(regexp.QuoteMeta(s.url) + `/setup/[A-Za-z0-9_-]+`)
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		select {
		case <-s.exited:
			t.Fatalf("pulse serve exited early:\n%s", s.out.Tail(40))
		default:
		}
		if s.setupLink = linkRE.FindString(s.out.Tail(200)); s.setupLink != "" {
			return s
		}
	}
	t.Fatalf("pulse serve printed no setup link:\n%s", s.out.Tail(40))
	return nil
}

// stop sends SIGTERM, as Docker and systemd do, and returns the exit code.
func (s *binaryServer) stop(t *testing.T) int {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("pulse serve did not exit within 30 s of SIGTERM")
	}
	return s.cmd.ProcessState.ExitCode()
}

// cleanEnv is the test's environment without PULSE_* settings, so only the
// flags configure the server.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PULSE_") {
			env = append(env, kv)
		}
	}
	return env
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
