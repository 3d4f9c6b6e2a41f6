package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulse-survey/pulse/survey"
)

// rosterTarget is a migrated database with the organisation set up.
func rosterTarget(t *testing.T) (target, *survey.Services) {
	t.Helper()
	tg := newTarget(t)
	if r := runPulse(t, nil, append([]string{"migrate"}, tg.args...)...); r.code != 0 {
		t.Fatalf("migrate: exit %d: %s", r.code, r.stderr)
	}
	svc := survey.New(openDB(t, tg.opts(false)), survey.Options{})
	if _, err := svc.Org.Init(context.Background(), survey.SettingsInput{Name: "Acme", TimeZone: "UTC", MinGroupSize: 5}); err != nil {
		t.Fatal(err)
	}
	return tg, svc
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func people(t *testing.T, svc *survey.Services) []survey.Person {
	t.Helper()
	var ps []survey.Person
	if err := svc.DB.Order("id").Find(&ps).Error; err != nil {
		t.Fatal(err)
	}
	return ps
}

func TestRosterImportCommand(t *testing.T) {
	tg, svc := rosterTarget(t)
	file := writeFile(t, "roster.csv", "\ufeffemail;name;team;leader\r\n"+
		"ada@example.com;Ada Lovelace;Engineering/Platform;yes\r\n"+
		"grace@example.com;Grace Hopper;Engineering/Platform;\r\n"+
		"linus@example.com;\"Torvalds; Linus\";Engineering/Kernel;\r\n")
	roster := func(extra ...string) result {
		return runPulse(t, nil, append(append([]string{"roster", "import", file}, extra...), tg.args...)...)
	}

	// Dry run by default.
	r := roster()
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("dry run: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	for _, want := range []string{file + ": 3 people; this import would change:", "new people        3\n", "new teams         3\n",
		"leaders listed    1  (no accounts are created: invite them in the web app)\n", "+ ada@example.com    Ada Lovelace     Engineering/Platform  line 2", "Torvalds; Linus",
		"This was a dry run: nothing was changed. Run again with --apply"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, r.stdout)
		}
	}
	if ps := people(t, svc); len(ps) != 0 {
		t.Fatalf("the dry run wrote %d people", len(ps))
	}

	// --apply, with a progress bar asked for (stderr is not a terminal here).
	r = roster("--apply", "--progress")
	if r.code != 0 {
		t.Fatalf("apply: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "this import changed:") || strings.Contains(r.stdout, "dry run") {
		t.Errorf("apply output:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "applying [") || !strings.HasSuffix(r.stderr, "100% 3/3 people\n") {
		t.Errorf("progress bar on stderr: %q", r.stderr)
	}
	before := people(t, svc)
	if len(before) != 3 {
		t.Fatalf("%d people after the apply, want 3", len(before))
	}

	// Again: nothing changes, and without --progress nothing on stderr.
	r = roster("--apply")
	if r.code != 0 || r.stderr != "" || !strings.Contains(r.stdout, "new people        0") || !strings.Contains(r.stdout, "unchanged         3") {
		t.Fatalf("re-apply: exit %d, stdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	after := people(t, svc)
	for i := range before {
		if !before[i].UpdatedAt.Equal(after[i].UpdatedAt) {
			t.Errorf("%s was written again", after[i].Email)
		}
	}
}

func TestRosterImportCommandErrors(t *testing.T) {
	tg, svc := rosterTarget(t)
	file := writeFile(t, "bad.csv", "email,name,team\nada@example.com,Ada,Ops\nnot-an-email,Bob,Ops\nADA@example.com,Ada,Ops\ncem@example.com,Cem,\n")
	for _, extra := range [][]string{nil, {"--apply"}} {
		r := runPulse(t, nil, append(append([]string{"roster", "import", file}, extra...), tg.args...)...)
		if r.code != 1 || r.stdout != "" {
			t.Fatalf("%v: exit %d, stdout %q", extra, r.code, r.stdout)
		}
		want := file + `:3: "not-an-email" is not a valid email address` + "\n" +
			file + ":4: duplicate email ada@example.com (first on line 2)\n" +
			file + ":5: the team is empty: give a path below the company such as Engineering/Platform\n" +
			"pulse: roster import: " + file + " has 3 problems; nothing was changed\n"
		if r.stderr != want {
			t.Errorf("%v: stderr:\n%s\nwant:\n%s", extra, r.stderr, want)
		}
	}
	if ps := people(t, svc); len(ps) != 0 {
		t.Fatalf("%d people after a file with errors", len(ps))
	}

	r := runPulse(t, nil, append([]string{"roster", "import", filepath.Join(t.TempDir(), "missing.csv")}, tg.args...)...)
	if r.code != 1 {
		t.Errorf("missing file: exit %d", r.code)
	}
	checkOneLine(t, "missing file", r.stderr)
}

func TestRosterCommandUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"roster"}, 2, "pulse: roster: name an action"},
		{[]string{"roster", "export"}, 2, "pulse: roster: name an action"},
		{[]string{"roster", "import"}, 2, "pulse: roster import: name the file first"},
		{[]string{"roster", "import", "--apply"}, 2, "pulse: roster import: name the file first"},
		{[]string{"roster", "import", "f.csv", "--apply=maybe"}, 2, "pulse: roster: --apply=maybe: use true or false"},
		{[]string{"roster", "import", "a.csv", "b.csv", "--data-dir", t.TempDir()}, 2, `pulse: unexpected argument "b.csv"`},
	} {
		r := runPulse(t, nil, tc.args...)
		if r.code != tc.code || !strings.HasPrefix(r.stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want %d, %q", tc.args, r.code, r.stderr, tc.code, tc.want)
		}
	}
	r := runPulse(t, nil, "roster", "-h")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "Usage: pulse roster import FILE") {
		t.Errorf("roster -h: exit %d, stdout %q", r.code, r.stdout)
	}
	if r := runPulse(t, nil, "help"); !strings.Contains(r.stdout, "roster ") {
		t.Errorf("help does not list the roster command:\n%s", r.stdout)
	}
}
