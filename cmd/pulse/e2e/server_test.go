package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/pulse-survey/pulse/api"
	"github.com/pulse-survey/pulse/reports"
	"github.com/pulse-survey/pulse/survey"
	"github.com/pulse-survey/pulse/survey/migrations"
	"github.com/pulse-survey/pulse/survey/surveytest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	writeAxeSummary()
	if browser.stop != nil {
		browser.stop()
	}
	os.Exit(code)
}

// pulseServer is a real Pulse server, wired as cmd/pulse wires it, on a
// free loopback port over a fresh database.
type pulseServer struct {
	URL string
	db  *gorm.DB
	svc *survey.Services
	log *syncBuffer
}

// startPulse starts the server; it stops when the test ends. opts may
// change the Deps before the server is built.
func startPulse(t *testing.T, opts ...func(*api.Deps)) *pulseServer {
	t.Helper()
	ctx := context.Background()
	db, err := survey.OpenDB(ctx, surveytest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
	})
	if err := migrations.Up(ctx, db); err != nil {
		t.Fatal(err)
	}
	master := make([]byte, 32)
	rand.Read(master)
	keys, err := survey.NewKeyring(master)
	if err != nil {
		t.Fatal(err)
	}
	// The minimum bcrypt cost keeps sign-ins fast; nothing else differs
	// from cmd/pulse's openServices.
	svc := survey.New(db, survey.Options{Keyring: keys, BcryptCost: bcrypt.MinCost, Releaser: &reports.Releaser{}})
	if err := svc.Programs.SyncBuiltinQuestions(ctx); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &pulseServer{URL: "http://" + ln.Addr().String(), db: db, svc: svc, log: &syncBuffer{}}
	logger := slog.New(slog.NewTextHandler(s.log, &slog.HandlerOptions{Level: slog.LevelInfo}))
	deps := api.Deps{DB: db, Services: svc, Logger: logger, AnonLogger: logger, BaseURL: s.URL, Version: "e2e"}
	for _, o := range opts {
		o(&deps)
	}
	e, err := api.New(deps)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		if t.Failed() {
			t.Logf("server log (last lines):\n%s", s.log.Tail(40))
		}
	})
	return s
}

// answerOpenRound submits a ballot for every invitee of the round who has
// no token yet, through the same blind-token pipeline as the browser (in
// Go), so that closing the round releases results.
func answerOpenRound(t *testing.T, svc *survey.Services, roundID uint) int {
	t.Helper()
	ctx := context.Background()
	links, err := svc.Rounds.Links(ctx, roundID)
	if err != nil {
		t.Fatal(err)
	}
	manifest, _, err := svc.Rounds.Manifest(ctx, roundID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i, l := range links {
		v, err := svc.Rounds.SurveyBySecret(ctx, l.Secret)
		if err != nil {
			t.Fatal(err)
		}
		if v.TokenIssued {
			continue
		}
		tok, err := survey.ObtainToken(manifest, roundID, v.UnitID, v.KeyID, func(blinded []byte) ([]byte, error) {
			return svc.Rounds.IssueToken(ctx, l.Secret, blinded)
		})
		if err != nil {
			t.Fatal(err)
		}
		answers := map[uint]int{}
		for j, q := range v.Questions {
			answers[q.QuestionID] = 2 + (i+j)%4
		}
		in, err := tok.Ballot(answers, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.Rounds.SubmitBallot(ctx, in); err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

// syncBuffer is a log sink that handlers write to concurrently.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Tail returns the last n lines.
func (b *syncBuffer) Tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	lines := strings.Split(strings.TrimRight(b.buf.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
