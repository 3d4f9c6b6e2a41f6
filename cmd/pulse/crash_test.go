package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/pulse-survey/pulse/reports"
	"github.com/pulse-survey/pulse/survey"
	"github.com/pulse-survey/pulse/survey/migrations"
)

// crashChildEnv makes the test binary act as `pulse round close` whose
// release stalls, so the test can kill it with SIGKILL at that point.
const crashChildEnv = "PULSE_TEST_CRASH_CHILD"

// crashReady is the line the child prints once it stalls in the release.
const crashReady = "stalled in the release"

func TestMain(m *testing.M) {
	if mode := os.Getenv(crashChildEnv); mode != "" {
		os.Exit(crashChild(mode, os.Args[1:]))
	}
	os.Exit(m.Run())
}

// crashChild runs `pulse round ARGS` as main does, except that the release
// stalls: before it starts ("before"), or after it wrote everything inside
// its transaction, before the commit ("inside"). The parent kills it there.
func crashChild(mode string, args []string) int {
	ctx := context.Background()
	action, ids, rest, err := roundArgs(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	cfg, _, err := loadConfig("round", rest, envOf(nil), os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	log, _ := newLoggers(cfg, os.Stderr)
	svc, closeDB, err := openServices(ctx, cfg, log, true, stallingReleaser{inside: mode == "inside"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer closeDB()
	if err := runRound(ctx, svc, cfg, action, ids, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	return 1 // the parent kills the child before this
}

// stallingReleaser announces on stdout that it reached its point and waits
// to be killed.
type stallingReleaser struct{ inside bool }

func (r stallingReleaser) ReleaseRound(ctx context.Context, tx *gorm.DB, roundID uint) error {
	if r.inside {
		if err := (&reports.Releaser{}).ReleaseRound(ctx, tx, roundID); err != nil {
			return err
		}
	}
	fmt.Println(crashReady)
	time.Sleep(time.Hour) // a sleeping timer, so the runtime sees no deadlock
	return nil
}

// crashFixture is an organisation with one team of six, a launched round
// and five ballots in its box, in the target's database, with the target's
// instance secret.
func crashFixture(t *testing.T, tg target) (*gorm.DB, uint) {
	t.Helper()
	ctx := t.Context()
	db := openDB(t, tg.opts(false))
	if err := migrations.Up(ctx, db); err != nil {
		t.Fatal(err)
	}
	keys, _, err := loadKeyring(filepath.Join(tg.dir, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	svc := survey.New(db, survey.Options{Keyring: keys, BcryptCost: 4, Releaser: &reports.Releaser{}})
	if _, err := svc.Org.Init(ctx, survey.SettingsInput{Name: "Acme", TimeZone: "Europe/Berlin", MinGroupSize: 5}); err != nil {
		t.Fatal(err)
	}
	tree, err := svc.Org.Tree(ctx)
	if err != nil {
		t.Fatal(err)
	}
	team, err := svc.Org.CreateTeam(ctx, tree.Root.ID, "Platform")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		if _, err := svc.Org.CreatePerson(ctx, survey.PersonInput{Email: fmt.Sprintf("p%d@acme.example", i),
			Name: fmt.Sprintf("Person %d", i), TeamID: team.ID, Active: true}); err != nil {
			t.Fatal(err)
		}
	}
	if err := svc.Programs.SyncBuiltinQuestions(ctx); err != nil {
		t.Fatal(err)
	}
	qs, err := svc.Programs.Questions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	qids := make([]uint, len(qs))
	for i, q := range qs {
		qids[i] = q.ID
	}
	prog, err := svc.Programs.CreateProgram(ctx, survey.ProgramInput{Name: "Pulse", Cadence: survey.CadenceWeekly, IntervalWeeks: 1,
		Weekday: time.Monday, TimeOfDay: "09:00", OpenDays: 5, ItemsPerRound: 5, MinGroupSize: 5, QuestionIDs: qids})
	if err != nil {
		t.Fatal(err)
	}
	// Paused, so the restarted server's scheduler launches nothing new.
	if err := db.Model(&survey.Program{}).Where("id = ?", prog.ID).Update("active", false).Error; err != nil {
		t.Fatal(err)
	}
	round, err := svc.Rounds.Launch(ctx, prog.ID)
	if err != nil {
		t.Fatal(err)
	}
	links, err := svc.Rounds.Links(ctx, round.ID)
	if err != nil {
		t.Fatal(err)
	}
	manifest, _, err := svc.Rounds.Manifest(ctx, round.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links[:5] {
		v, err := svc.Rounds.SurveyBySecret(ctx, l.Secret)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := survey.ObtainToken(manifest, round.ID, v.UnitID, v.KeyID, func(b []byte) ([]byte, error) {
			return svc.Rounds.IssueToken(ctx, l.Secret, b)
		})
		if err != nil {
			t.Fatal(err)
		}
		answers := map[uint]int{}
		for _, q := range v.Questions {
			answers[q.QuestionID] = 4
		}
		in, err := tok.Ballot(answers, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.Rounds.SubmitBallot(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	return db, round.ID
}

// TestCrashBetweenCloseAndRelease kills `pulse round close` (SIGKILL)
// after the close committed and before its release committed, then starts
// `pulse serve` on the same database: the release appears.
func TestCrashBetweenCloseAndRelease(t *testing.T) {
	for _, mode := range []string{"before", "inside"} {
		t.Run(mode, func(t *testing.T) {
			tg := newTarget(t)
			db, roundID := crashFixture(t, tg)
			count := func(table string) int64 {
				t.Helper()
				var n int64
				if err := db.Table(table).Where("round_id = ?", roundID).Count(&n).Error; err != nil {
					t.Fatal(err)
				}
				return n
			}

			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			args := append([]string{"close", "--round", fmt.Sprint(roundID)}, tg.args...)
			cmd := exec.CommandContext(ctx, os.Args[0], args...)
			cmd.Env = append(os.Environ(), crashChildEnv+"="+mode)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			stalled := false
			for sc := bufio.NewScanner(out); sc.Scan(); {
				if sc.Text() == crashReady {
					stalled = true
					break
				}
			}
			if !stalled {
				cmd.Wait()
				t.Fatalf("the child never reached the release; stderr:\n%s", stderr.String())
			}
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
			if err := cmd.Wait(); err == nil {
				t.Fatal("the killed child exited cleanly")
			}

			var r survey.Round
			if err := db.First(&r, roundID).Error; err != nil {
				t.Fatal(err)
			}
			if r.Status != survey.RoundClosed || !r.ReleasePending {
				t.Fatalf("after the kill: round %s, release pending %v; want closed and pending", r.Status, r.ReleasePending)
			}
			if n := count("releases"); n != 0 {
				t.Fatalf("after the kill: %d release rows, want none (never committed)", n)
			}
			if b, box := count("ballots"), count("ballot_box"); b != 5 || box != 0 {
				t.Fatalf("after the kill: %d ballots and %d in the box, want 5 and 0", b, box)
			}

			if r := runPulse(t, nil, append([]string{"round", "list"}, tg.args...)...); r.code != 0 ||
				!strings.Contains(r.stdout, "closed, release pending") {
				t.Errorf("round list after the kill: exit %d, stdout:\n%s\nwant the round shown as closed, release pending", r.code, r.stdout)
			}

			// The next start of Pulse completes the release.
			addr := "127.0.0.1:" + freePort(t)
			sctx, stop := context.WithCancel(t.Context())
			defer stop()
			var sout, serr syncBuffer
			done := make(chan int, 1)
			go func() {
				done <- run(sctx, append([]string{"serve", "--addr", addr, "--log-level", "debug"}, tg.args...), envOf(nil), &sout, &serr)
			}()
			deadline := time.Now().Add(time.Minute)
			for {
				var rel reports.Release
				err := db.First(&rel, roundID).Error
				if err == nil {
					if rel.Respondents != 5 {
						t.Errorf("release of round %d: %d respondents, want 5", roundID, rel.Respondents)
					}
					break
				}
				select {
				case code := <-done:
					t.Fatalf("serve exited with %d before releasing; stderr:\n%s", code, serr.String())
				default:
				}
				if time.Now().After(deadline) {
					t.Fatalf("no release a minute after the restart; stderr:\n%s", serr.String())
				}
				time.Sleep(50 * time.Millisecond)
			}
			stop()
			if code := <-done; code != 0 {
				t.Errorf("serve returned %d; stderr:\n%s", code, serr.String())
			}
			if err := db.First(&r, roundID).Error; err != nil || r.ReleasePending {
				t.Errorf("after the restart: release pending %v (%v), want cleared", r.ReleasePending, err)
			}
			if n := count("release_units"); n == 0 {
				t.Error("the release has no units")
			}
		})
	}
}
