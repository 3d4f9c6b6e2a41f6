package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pulse-survey/pulse/survey"
)

const rosterUsage = `Usage: pulse roster import FILE [--apply] [--progress] [flags]

Compares a roster CSV file with the organisation and prints the changes:
new, renamed, moved, reactivated and deactivated people, new teams. This is
a dry run unless --apply is given; then every change is applied in one
transaction (all or nothing). Importing the same file again changes nothing.

The file: UTF-8 (with or without BOM), comma- or semicolon-separated, with a
header line naming the columns email, name, team (a path below the company,
e.g. Engineering/Platform) and optionally leader (yes/no) or manager_email.
People missing from the file are deactivated, never deleted. Leaders are only
listed: invite their accounts in the web app.

  --apply      apply the changes (default: print them only)
  --progress   show a progress bar on stderr (default: when stderr is a terminal)

Problems are printed as FILE:LINE: message and the exit code is 1.
Configuration flags (e.g. --database-url) follow FILE; see pulse serve -h.
`

// rosterCmd is what "pulse roster" was asked to do.
type rosterCmd struct {
	action, file    string
	apply, progress bool
}

// rosterArgs takes the roster command's own arguments out of args; the
// rest are configuration flags.
func rosterArgs(args []string) (rc rosterCmd, rest []string, err error) {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		return rosterCmd{action: "help"}, nil, nil
	}
	if len(args) == 0 || args[0] != "import" {
		return rc, nil, fmt.Errorf("roster: name an action: pulse roster import FILE [--apply]")
	}
	rc.action = "import"
	for _, a := range args[1:] {
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && (name == "apply" || name == "progress") {
			on := true
			if hasVal {
				if on, err = strconv.ParseBool(val); err != nil {
					return rc, nil, fmt.Errorf("roster: --%s=%s: use true or false", name, val)
				}
			}
			if name == "apply" {
				rc.apply = on
			} else {
				rc.progress = on
			}
			continue
		}
		if rc.file == "" && len(rest) == 0 && !strings.HasPrefix(a, "-") {
			rc.file = a
			continue
		}
		rest = append(rest, a)
	}
	if rc.file == "" {
		return rc, nil, fmt.Errorf("roster import: name the file first: pulse roster import FILE [--apply] [flags]")
	}
	return rc, rest, nil
}

func runRoster(ctx context.Context, svc *survey.Services, rc rosterCmd, stdout, stderr io.Writer) error {
	f, err := os.Open(rc.file)
	if err != nil {
		return fmt.Errorf("roster import: cannot read the file: %v", err)
	}
	r, err := survey.ReadRoster(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("roster import: cannot read the file: %v", err)
	}
	if !r.Valid() {
		for _, e := range r.Errors {
			fmt.Fprintf(stderr, "%s:%d: %s\n", rc.file, e.Line, e.Message)
		}
		if more := r.ErrorCount - len(r.Errors); more > 0 {
			fmt.Fprintf(stderr, "%s: ... and %d more problems\n", rc.file, more)
		}
		problems := "1 problem"
		if r.ErrorCount != 1 {
			problems = fmt.Sprintf("%d problems", r.ErrorCount)
		}
		return fmt.Errorf("roster import: %s has %s; nothing was changed", rc.file, problems)
	}
	if !rc.apply {
		plan, err := svc.Org.PreviewRosterLimit(ctx, r, rosterListed)
		if err != nil {
			return fmt.Errorf("roster import: %w", err)
		}
		printRosterPlan(stdout, rc.file, plan, false)
		if plan.Changes() > 0 {
			fmt.Fprintln(stdout, "\nThis was a dry run: nothing was changed. Run again with --apply to apply these changes.")
		}
		return nil
	}
	bar := &progressBar{w: stderr, on: rc.progress || isTerminal(stderr), label: "applying"}
	plan, err := svc.Org.ApplyRoster(ctx, r, survey.RosterApplyOptions{Progress: bar.update, Limit: rosterListed})
	bar.finish()
	if err != nil {
		return fmt.Errorf("roster import: %w; nothing was changed", err)
	}
	printRosterPlan(stdout, rc.file, plan, true)
	return nil
}

// rosterListed is how many entries of each section are printed.
const rosterListed = 50

func printRosterPlan(w io.Writer, file string, p *survey.RosterPlan, applied bool) {
	verb := "would change"
	if applied {
		verb = "changed"
	}
	fmt.Fprintf(w, "%s: %d people; this import %s:\n\n", file, p.Rows, verb)
	t := p.Totals
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	for _, l := range []struct {
		what string
		n    int
		note string
	}{
		{"new people", t.New, ""},
		{"renamed", t.Renamed, ""},
		{"moved", t.Moved, ""},
		{"reactivated", t.Reactivated, ""},
		{"deactivated", t.Deactivated, "missing from the file; never deleted"},
		{"unchanged", p.Unchanged, ""},
		{"new teams", t.NewTeams, ""},
		{"unarchived teams", t.Unarchived, "archived teams at a path of the file, reused"},
		{"leaders listed", t.Leaders, "no accounts are created: invite them in the web app"},
	} {
		if l.note == "" {
			fmt.Fprintf(tw, "  %s\t%d\n", l.what, l.n)
		} else {
			fmt.Fprintf(tw, "  %s\t%d\t(%s)\n", l.what, l.n, l.note)
		}
	}
	tw.Flush()
	for _, w2 := range p.Warnings {
		fmt.Fprintf(w, "\nWarning: %s\n", w2)
	}

	section(w, "New people", t.New, func(i int) string {
		x := p.New[i]
		return fmt.Sprintf("+ %s\t%s\t%s\tline %d", x.Email, x.Name, x.Team, x.Line)
	})
	section(w, "Renamed", t.Renamed, func(i int) string {
		x := p.Renamed[i]
		return fmt.Sprintf("~ %s\t%s -> %s\t\tline %d", x.Email, x.OldName, x.NewName, x.Line)
	})
	section(w, "Moved", t.Moved, func(i int) string {
		x := p.Moved[i]
		return fmt.Sprintf("> %s\t%s\t%s -> %s\tline %d", x.Email, x.Name, x.From, x.To, x.Line)
	})
	section(w, "Reactivated", t.Reactivated, func(i int) string {
		x := p.Reactivated[i]
		return fmt.Sprintf("+ %s\t%s\t%s\tline %d", x.Email, x.Name, x.Team, x.Line)
	})
	section(w, "Deactivated (missing from the file)", t.Deactivated, func(i int) string {
		x := p.Deactivated[i]
		return fmt.Sprintf("- %s\t%s\t%s", x.Email, x.Name, x.Team)
	})
	section(w, "New teams", t.NewTeams, func(i int) string { return "+ " + p.NewTeams[i] })
	section(w, "Archived teams reused and unarchived", t.Unarchived, func(i int) string { return "+ " + p.Unarchived[i] })
	section(w, "Leaders listed", t.Leaders, func(i int) string {
		x := p.Leaders[i]
		return fmt.Sprintf("  %s\t%s\tfrom %s, line %d", x.Team, x.Email, x.Via, x.Line)
	})
}

func section(w io.Writer, title string, n int, line func(i int) string) {
	if n == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s (%d):\n", title, n)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	for i := 0; i < n && i < rosterListed; i++ {
		fmt.Fprintf(tw, "  %s\n", line(i))
	}
	tw.Flush()
	if n > rosterListed {
		fmt.Fprintf(w, "  ... and %d more\n", n-rosterListed)
	}
}

// progressBar draws "applying [#####-----]  50% 5000/10000" on one line
// of a terminal, at most ten times a second.
type progressBar struct {
	w       io.Writer
	on      bool
	label   string
	last    time.Time
	started bool
}

func (b *progressBar) update(done, total int) {
	if !b.on || total == 0 {
		return
	}
	now := time.Now()
	if b.started && done < total && now.Sub(b.last) < 100*time.Millisecond {
		return
	}
	b.last, b.started = now, true
	const width = 30
	n := done * width / total
	fmt.Fprintf(b.w, "\r%s [%s%s] %3d%% %d/%d people", b.label, strings.Repeat("#", n), strings.Repeat("-", width-n),
		done*100/total, done, total)
}

func (b *progressBar) finish() {
	if b.started {
		fmt.Fprintln(b.w)
	}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
