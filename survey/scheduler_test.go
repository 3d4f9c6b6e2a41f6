package survey_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/pulse-survey/pulse/reports"
	"github.com/pulse-survey/pulse/survey"
	"github.com/pulse-survey/pulse/survey/demo"
	"github.com/pulse-survey/pulse/survey/migrations"
	"github.com/pulse-survey/pulse/survey/surveytest"
)

// sink is a real SMTP server (go-smtp) that records what it accepts. fail,
// when set, may refuse a recipient or a message with an SMTP error.
type sink struct {
	mu    sync.Mutex
	msgs  []sinkMsg
	rcpts int // RCPT commands seen
	fail  func(stage, rcpt string, n int) *smtp.SMTPError
	addr  *net.TCPAddr
}

// sinkMsg is one accepted message, decoded.
type sinkMsg struct {
	To, MessageID, Subject string
	Text, HTML             string
}

type sinkSession struct {
	s     *sink
	rcpts []string
}

func (ss *sinkSession) Reset()        { ss.rcpts = nil }
func (ss *sinkSession) Logout() error { return nil }
func (ss *sinkSession) Mail(string, *smtp.MailOptions) error {
	return nil
}

func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	ss.s.rcpts++
	n, fail := ss.s.rcpts, ss.s.fail
	ss.s.mu.Unlock()
	if fail != nil {
		if err := fail("rcpt", to, n); err != nil {
			return err
		}
	}
	ss.rcpts = append(ss.rcpts, to)
	return nil
}

func (ss *sinkSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	fail := ss.s.fail
	ss.s.mu.Unlock()
	for _, to := range ss.rcpts {
		if fail != nil {
			if err := fail("data", to, 0); err != nil {
				return err
			}
		}
	}
	m, err := parseMail(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, Message: "unparseable: " + err.Error()}
	}
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	for _, to := range ss.rcpts {
		c := m
		c.To = to
		ss.s.msgs = append(ss.s.msgs, c)
	}
	return nil
}

func parseMail(raw []byte) (sinkMsg, error) {
	msg, err := netmail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		return sinkMsg{}, err
	}
	var dec mime.WordDecoder
	subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return sinkMsg{}, err
	}
	out := sinkMsg{MessageID: msg.Header.Get("Message-Id"), Subject: subject}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return sinkMsg{}, err
	}
	if !strings.HasPrefix(mt, "multipart/") {
		return sinkMsg{}, fmt.Errorf("want a multipart message, got %s", mt)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart() // decodes quoted-printable
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return sinkMsg{}, err
		}
		b, err := io.ReadAll(p)
		if err != nil {
			return sinkMsg{}, err
		}
		pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		switch pt {
		case "text/plain":
			out.Text = string(b)
		case "text/html":
			out.HTML = string(b)
		}
	}
	return out, nil
}

func startSink(t *testing.T) *sink {
	t.Helper()
	s := &sink{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &sinkSession{s: s}, nil }))
	srv.Domain = "localhost"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.ErrorLog = quietLog{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().(*net.TCPAddr)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

type quietLog struct{}

func (quietLog) Printf(string, ...any) {}
func (quietLog) Println(...any)        {}

func (s *sink) setFail(f func(stage, rcpt string, n int) *smtp.SMTPError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = f
}

func (s *sink) messages() []sinkMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sinkMsg(nil), s.msgs...)
}

// count returns how many messages each recipient got whose subject
// contains substr.
func (s *sink) count(substr string) map[string]int {
	out := map[string]int{}
	for _, m := range s.messages() {
		if strings.Contains(m.Subject, substr) {
			out[m.To]++
		}
	}
	return out
}

func (s *sink) mailer(t *testing.T) survey.Mailer {
	t.Helper()
	m, err := survey.NewSMTPMailer(survey.SMTPConfig{Host: "127.0.0.1", Port: s.addr.Port, From: "Pulse <pulse@acme.example>",
		TLS: "none", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

const schedBaseURL = "https://pulse.acme.example"

// schedEnv is a database with an organisation, one team of people and a
// program, a shared clock, and any number of scheduler instances, each
// with its own connection pool (like separate processes).
type schedEnv struct {
	t      *testing.T
	ctx    context.Context
	clock  *testClock
	opts   survey.DBOptions
	kr     *survey.Keyring
	svc    *survey.Services
	db     *gorm.DB
	people []survey.Person
	prog   *survey.Program

	mu     sync.Mutex
	closes map[uint]int // release calls per round, across instances
}

type schedSetup struct {
	zone    string
	start   time.Time
	people  int
	cadence string
	weekday time.Weekday
	tod     string
	open    int
}

func newSchedEnv(t *testing.T, s schedSetup) *schedEnv {
	t.Helper()
	if s.zone == "" {
		s.zone = "Europe/Berlin"
	}
	if s.cadence == "" {
		s.cadence, s.weekday, s.tod = survey.CadenceWeekly, time.Monday, "09:00"
	}
	if s.open == 0 {
		s.open = 5
	}
	master := make([]byte, 32)
	if _, err := rand.Read(master); err != nil {
		t.Fatal(err)
	}
	kr, err := survey.NewKeyring(master)
	if err != nil {
		t.Fatal(err)
	}
	e := &schedEnv{t: t, ctx: t.Context(), clock: surveytest.NewClock(s.start), opts: surveytest.NewDatabase(t), kr: kr, closes: map[uint]int{}}
	e.db = e.open()
	if err := migrations.Up(e.ctx, e.db); err != nil {
		t.Fatal(err)
	}
	e.svc = e.services(e.db)
	if _, err := e.svc.Org.Init(e.ctx, survey.SettingsInput{Name: "Acme", TimeZone: s.zone, MinGroupSize: 3}); err != nil {
		t.Fatal(err)
	}
	tr, err := e.svc.Org.Tree(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	team, err := e.svc.Org.CreateTeam(e.ctx, tr.Root.ID, "Team A")
	if err != nil {
		t.Fatal(err)
	}
	e.people = make([]survey.Person, s.people)
	for i := range e.people {
		e.people[i] = survey.Person{Email: fmt.Sprintf("p%d@acme.example", i), Name: fmt.Sprintf("Person %d", i), TeamID: team.ID, Active: true}
	}
	if err := e.db.Create(&e.people).Error; err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Programs.SyncBuiltinQuestions(e.ctx); err != nil {
		t.Fatal(err)
	}
	qs, err := e.svc.Programs.Questions(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]uint, len(qs))
	for i, q := range qs {
		ids[i] = q.ID
	}
	e.prog, err = e.svc.Programs.CreateProgram(e.ctx, survey.ProgramInput{Name: "Team pulse", Cadence: s.cadence, IntervalWeeks: 2,
		Weekday: s.weekday, TimeOfDay: s.tod, OpenDays: s.open, ItemsPerRound: 5, MinGroupSize: 3, QuestionIDs: ids})
	if err != nil {
		t.Fatal(err)
	}
	// CreateProgram stamps CreatedAt with the wall clock, not the
	// services' clock: put the program's creation at the test's start.
	if err := e.db.Model(&survey.Program{}).Where("id = ?", e.prog.ID).Update("created_at", s.start).Error; err != nil {
		t.Fatal(err)
	}
	e.prog.CreatedAt = s.start
	return e
}

func (e *schedEnv) open() *gorm.DB {
	e.t.Helper()
	db, err := survey.OpenDB(e.ctx, e.opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
	})
	return db
}

func (e *schedEnv) services(db *gorm.DB) *survey.Services {
	return e.servicesWith(db, counted(&e.mu, e.closes))
}

func (e *schedEnv) servicesWith(db *gorm.DB, rel survey.Releaser) *survey.Services {
	return survey.New(db, survey.Options{Now: e.clock.Now, Keyring: e.kr, BcryptCost: bcrypt.MinCost, Releaser: rel})
}

// instance is one more scheduler on its own connection pool.
func (e *schedEnv) instance(m survey.Mailer) *survey.Scheduler {
	return survey.NewScheduler(e.services(e.open()), survey.SchedulerOptions{Mailer: m, BaseURL: schedBaseURL})
}

func (e *schedEnv) runOnce(s *survey.Scheduler) {
	e.t.Helper()
	if err := s.RunOnce(e.ctx); err != nil {
		e.t.Fatalf("scheduler at %s: %v", e.clock.Now().Format(time.RFC3339), err)
	}
}

func (e *schedEnv) set(ts string) { e.clock.Set(utc(ts)) }

func (e *schedEnv) rounds() []survey.RoundSummary {
	e.t.Helper()
	rs, err := e.svc.Rounds.Rounds(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	// Oldest first.
	for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
		rs[i], rs[j] = rs[j], rs[i]
	}
	return rs
}

// takePart obtains a token for person i in round r, as their browser would.
func (e *schedEnv) takePart(r uint, i int) {
	e.t.Helper()
	ls, err := e.svc.Rounds.Links(e.ctx, r)
	if err != nil {
		e.t.Fatal(err)
	}
	manifest, _, err := e.svc.Rounds.Manifest(e.ctx, r)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, l := range ls {
		if l.PersonID != e.people[i].ID {
			continue
		}
		v, err := e.svc.Rounds.SurveyBySecret(e.ctx, l.Secret)
		if err != nil {
			e.t.Fatal(err)
		}
		if _, err := survey.ObtainToken(manifest, r, v.UnitID, v.KeyID, func(b []byte) ([]byte, error) {
			return e.svc.Rounds.IssueToken(e.ctx, l.Secret, b)
		}); err != nil {
			e.t.Fatal(err)
		}
		return
	}
	e.t.Fatalf("person %d has no link in round %d", i, r)
}

func (e *schedEnv) report(r uint) *survey.DeliveryReport {
	e.t.Helper()
	rep, err := e.svc.DeliveryReport(e.ctx, r)
	if err != nil {
		e.t.Fatal(err)
	}
	return rep
}

func countOf(rep *survey.DeliveryReport, kind, status string) int {
	for _, c := range rep.Counts {
		if c.Kind == kind && c.Status == status {
			return c.N
		}
	}
	return 0
}

func emails(ps []survey.Person, idx ...int) map[string]int {
	out := map[string]int{}
	for _, i := range idx {
		out[ps[i].Email] = 1
	}
	return out
}

func sameCounts(t *testing.T, what string, got, want map[string]int) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s: got %v, want %v", what, got, want)
		}
	}
}

// A round launches on its cadence and everyone gets exactly one invitation
// with their own link, the close date in the organisation's time zone and
// the manifest fingerprint; reminders go only to those without a token,
// and only while the round is open; the round closes by itself.
func TestSchedulerInvitesRemindsCloses(t *testing.T) {
	sk := startSink(t)
	// Saturday; the program launches on Mondays at 09:00 Berlin time.
	e := newSchedEnv(t, schedSetup{start: utc("2031-03-01T12:00:00Z"), people: 5})
	s := e.instance(sk.mailer(t))

	e.runOnce(s)
	if n := len(e.rounds()); n != 0 {
		t.Fatalf("%d rounds before the first launch time", n)
	}
	e.set("2031-03-03T08:00:00Z") // Monday 09:00 CET
	e.runOnce(s)
	e.runOnce(s)
	rs := e.rounds()
	if len(rs) != 1 || rs[0].Status != survey.RoundOpen {
		t.Fatalf("rounds after the launch time: %+v", rs)
	}
	r := rs[0].ID
	all := []int{0, 1, 2, 3, 4}
	sameCounts(t, "invitations", sk.count("survey is open"), emails(e.people, all...))

	links, err := e.svc.Rounds.Links(e.ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	_, hash, err := e.svc.Rounds.Manifest(e.ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	byEmail := map[string]sinkMsg{}
	for _, m := range sk.messages() {
		byEmail[m.To] = m
	}
	for _, l := range links {
		m := byEmail[l.Email]
		link := schedBaseURL + "/s/" + l.Secret
		for part, body := range map[string]string{"text": m.Text, "html": m.HTML} {
			if !strings.Contains(body, link) {
				t.Errorf("%s part to %s lacks their link %s:\n%s", part, l.Email, link, body)
			}
			if !strings.Contains(body, hash) {
				t.Errorf("%s part to %s lacks the manifest fingerprint", part, l.Email)
			}
			if !strings.Contains(body, "Saturday, 8 March 2031, 09:00 CET") {
				t.Errorf("%s part to %s lacks the close date in Berlin time:\n%s", part, l.Email, body)
			}
			for _, other := range links {
				if other.Email != l.Email && (strings.Contains(body, other.Secret) || strings.Contains(body, other.Email) || strings.Contains(body, other.Name+"\n")) {
					t.Errorf("%s part to %s mentions %s", part, l.Email, other.Email)
				}
			}
		}
	}

	e.takePart(r, 0)
	e.takePart(r, 1)
	e.set("2031-03-05T08:00:00Z") // 40% of 5 days
	e.runOnce(s)
	sameCounts(t, "first reminders", sk.count("Reminder"), emails(e.people, 2, 3, 4))

	e.takePart(r, 2)
	e.set("2031-03-07T02:00:00Z") // 75% of 5 days
	e.runOnce(s)
	want := emails(e.people, 2, 3, 4)
	want[e.people[3].Email], want[e.people[4].Email] = 2, 2
	sameCounts(t, "all reminders", sk.count("Reminder"), want)

	e.set("2031-03-08T08:00:00Z")
	e.runOnce(s)
	e.runOnce(s)
	if rs := e.rounds(); rs[0].Status != survey.RoundClosed || len(rs) != 1 {
		t.Fatalf("after the close time: %+v", rs)
	}
	if e.closes[r] != 1 {
		t.Fatalf("round closed (released) %d times", e.closes[r])
	}
	if n := len(sk.messages()); n != 10 {
		t.Fatalf("%d messages in all, want 5 invitations and 5 reminders", n)
	}
	rep := e.report(r)
	if !rep.Emailed || countOf(rep, "invite", "sent") != 5 || countOf(rep, "remind1", "sent") != 3 || countOf(rep, "remind2", "sent") != 2 || len(rep.Failed) != 0 {
		t.Fatalf("delivery report %+v", rep)
	}
}

// An SMTP outage in the middle of the invitations: refused messages are
// retried with backoff and nobody gets two copies; a permanent refusal is
// reported with its reason.
func TestSchedulerSMTPOutage(t *testing.T) {
	sk := startSink(t)
	e := newSchedEnv(t, schedSetup{start: utc("2031-03-01T12:00:00Z"), people: 8})
	s := e.instance(sk.mailer(t))
	var mu sync.Mutex
	outage := true
	accepted := 0
	sk.setFail(func(stage, rcpt string, n int) *smtp.SMTPError {
		mu.Lock()
		defer mu.Unlock()
		if rcpt == e.people[7].Email {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
		}
		if !outage {
			return nil
		}
		if stage == "rcpt" {
			return nil
		}
		// The server accepts two messages, then fails after DATA.
		if accepted < 2 {
			accepted++
			return nil
		}
		return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	})
	e.set("2031-03-03T08:00:00Z")
	e.runOnce(s)
	r := e.rounds()[0].ID
	if n := len(sk.messages()); n != 2 {
		t.Fatalf("%d messages accepted during the outage, want 2", n)
	}
	rep := e.report(r)
	if countOf(rep, "invite", "sent") != 2 || countOf(rep, "invite", "queued") != 5 || countOf(rep, "invite", "failed") != 1 {
		t.Fatalf("delivery report during the outage: %+v", rep.Counts)
	}
	if len(rep.Failed) != 1 || rep.Failed[0].Email != e.people[7].Email || !strings.Contains(rep.Failed[0].Reason, "550") {
		t.Fatalf("failures: %+v", rep.Failed)
	}

	mu.Lock()
	outage = false
	mu.Unlock()
	e.runOnce(s) // the backoff has not passed yet
	if n := len(sk.messages()); n != 2 {
		t.Fatalf("%d messages before the backoff passed", n)
	}
	e.set("2031-03-03T08:01:00Z")
	e.runOnce(s)
	e.set("2031-03-03T09:00:00Z")
	e.runOnce(s)
	sameCounts(t, "invitations after the outage", sk.count("survey is open"), emails(e.people, 0, 1, 2, 3, 4, 5, 6))
	rep = e.report(r)
	if countOf(rep, "invite", "sent") != 7 || countOf(rep, "invite", "failed") != 1 {
		t.Fatalf("delivery report after the outage: %+v", rep.Counts)
	}
}

// Without SMTP no email job exists and the round's links may be exported.
func TestSchedulerWithoutEmail(t *testing.T) {
	e := newSchedEnv(t, schedSetup{start: utc("2031-03-01T12:00:00Z"), people: 4})
	s := e.instance(nil)
	e.set("2031-03-03T08:00:00Z")
	e.runOnce(s)
	e.set("2031-03-06T08:00:00Z")
	e.runOnce(s)
	rs := e.rounds()
	if len(rs) != 1 {
		t.Fatalf("rounds: %+v", rs)
	}
	var n int64
	if err := e.db.Model(&survey.Job{}).Where("kind NOT IN ?", []string{"launch", "close"}).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d email jobs without SMTP", n)
	}
	rep := e.report(rs[0].ID)
	if rep.Emailed || len(rep.Counts) != 0 {
		t.Fatalf("delivery report without SMTP: %+v", rep)
	}
	e.set("2031-03-08T08:00:00Z")
	e.runOnce(s)
	if rs := e.rounds(); rs[0].Status != survey.RoundClosed {
		t.Fatalf("round not closed: %+v", rs[0])
	}
}

// After three weeks of downtime the scheduler launches once, for the
// latest missed period, not once per missed period.
func TestSchedulerCatchUpOnce(t *testing.T) {
	e := newSchedEnv(t, schedSetup{start: utc("2031-03-01T12:00:00Z"), people: 4, open: 3})
	a, b := e.instance(nil), e.instance(nil)
	e.runOnce(a)
	e.set("2031-03-20T10:00:00Z") // three launch times missed
	e.runOnce(a)
	e.runOnce(b)
	e.runOnce(a)
	rs := e.rounds()
	if len(rs) != 1 {
		t.Fatalf("%d rounds after the downtime, want 1", len(rs))
	}
	if !rs[0].OpensAt.Equal(utc("2031-03-20T10:00:00Z")) || !rs[0].ClosesAt.Equal(utc("2031-03-23T10:00:00Z")) {
		t.Fatalf("caught-up round opens %s, closes %s", rs[0].OpensAt, rs[0].ClosesAt)
	}
	// Then the cadence goes on: closed on Sunday, the next opens on Monday.
	e.set("2031-03-23T12:00:00Z")
	e.runOnce(b)
	e.set("2031-03-24T08:00:00Z")
	e.runOnce(a)
	rs = e.rounds()
	if len(rs) != 2 || rs[0].Status != survey.RoundClosed || rs[1].Status != survey.RoundOpen {
		t.Fatalf("rounds after the next launch time: %+v", rs)
	}
}

// A period whose launch is refused (too few people) is skipped, not
// retried at every tick, and the next period launches.
func TestSchedulerSkipsUnlaunchablePeriod(t *testing.T) {
	e := newSchedEnv(t, schedSetup{start: utc("2031-03-01T12:00:00Z"), people: 2})
	s := e.instance(nil)
	e.set("2031-03-03T08:00:00Z")
	e.runOnce(s)
	var j survey.Job
	if err := e.db.Where("kind = ?", "launch").First(&j).Error; err != nil {
		t.Fatal(err)
	}
	if j.DoneAt == nil || j.Attempts != 1 || !strings.Contains(j.LastError, "minimum group size") {
		t.Fatalf("launch job %+v", j)
	}
	more := []survey.Person{{Email: "late@acme.example", Name: "Late", TeamID: e.people[0].TeamID, Active: true}}
	if err := e.db.Create(&more).Error; err != nil {
		t.Fatal(err)
	}
	e.set("2031-03-04T08:00:00Z")
	e.runOnce(s)
	if n := len(e.rounds()); n != 0 {
		t.Fatalf("%d rounds: the skipped period launched later", n)
	}
	e.set("2031-03-10T08:00:00Z")
	e.runOnce(s)
	if n := len(e.rounds()); n != 1 {
		t.Fatalf("%d rounds in the next period, want 1", n)
	}
}

// Two scheduler instances, each with its own connection pool, run over one
// database for five weekly periods (across the start of summer time): each
// round is launched and closed once, each email sent once.
func TestSchedulerTwoInstances(t *testing.T) {
	sk := startSink(t)
	e := newSchedEnv(t, schedSetup{start: utc("2031-03-01T12:00:00Z"), people: 4, open: 3})
	insts := []*survey.Scheduler{e.instance(sk.mailer(t)), e.instance(sk.mailer(t))}
	end := utc("2031-04-05T00:00:00Z")
	worked := make([]int, len(insts))
	for e.clock.Now().Before(end) {
		var wg sync.WaitGroup
		errs := make([]error, len(insts))
		for i, s := range insts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if errs[i] = s.Tick(e.ctx); errs[i] == nil {
					var n int
					n, errs[i] = s.Work(e.ctx)
					worked[i] += n
				}
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("at %s: %v", e.clock.Now().Format(time.RFC3339), err)
		}
		e.clock.Advance(3 * time.Hour)
	}
	if worked[0] == 0 || worked[1] == 0 {
		t.Errorf("jobs run per instance: %v; both should have worked", worked)
	}
	rs := e.rounds()
	berlin := mustLoc(t, "Europe/Berlin")
	if len(rs) != 5 {
		t.Fatalf("%d rounds in five weeks, want 5", len(rs))
	}
	for i, r := range rs {
		if r.Status != survey.RoundClosed || e.closes[r.ID] != 1 {
			t.Errorf("round %d: %s, closed %d times", r.Number, r.Status, e.closes[r.ID])
		}
		// Ticks every 3 hours from 12:00 UTC: the 09:00 launch is seen at 09:00 UTC.
		if got := r.OpensAt.In(berlin); got.Weekday() != time.Monday || got.Day() != 3+7*i {
			t.Errorf("round %d opened %s", r.Number, got)
		}
	}
	seen := map[string]int{}
	for _, m := range sk.messages() {
		seen[m.To+" "+m.MessageID]++
	}
	if len(seen) != 5*4*3 {
		t.Errorf("%d distinct emails, want 60 (5 rounds x 4 people x invitation and two reminders)", len(seen))
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s sent %d times", k, n)
		}
	}
	if n := len(sk.messages()); n != 60 {
		t.Errorf("%d messages, want 60", n)
	}
}

// crashMailer sends, then "dies" before the scheduler learns the outcome:
// it cancels its instance's context and reports the cancellation, as a
// process killed after the server's reply would never record it.
type crashMailer struct {
	survey.Mailer
	cancel context.CancelFunc
	once   sync.Once
}

func (m *crashMailer) Send(ctx context.Context, e survey.Email) error {
	if err := m.Mailer.Send(ctx, e); err != nil {
		return err
	}
	m.once.Do(m.cancel)
	return ctx.Err()
}

// The one case of a duplicate, documented in README: the server accepted a
// message and the process died before recording it. Another instance takes
// the job once its lease ends and sends the same message (same Message-ID)
// again; everyone else still gets exactly one.
func TestSchedulerCrashAfterAccept(t *testing.T) {
	sk := startSink(t)
	e := newSchedEnv(t, schedSetup{start: utc("2031-03-01T12:00:00Z"), people: 3})
	ctx, cancel := context.WithCancel(e.ctx)
	dying := survey.NewScheduler(e.services(e.open()), survey.SchedulerOptions{
		Mailer: &crashMailer{Mailer: sk.mailer(t), cancel: cancel}, BaseURL: schedBaseURL})
	e.set("2031-03-03T08:00:00Z")
	if err := dying.RunOnce(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("dying instance: %v", err)
	}
	if n := len(sk.messages()); n != 1 {
		t.Fatalf("%d messages before the crash", n)
	}
	other := e.instance(sk.mailer(t))
	e.runOnce(other) // the crashed job's lease still holds
	if n := len(sk.messages()); n != 3 {
		t.Fatalf("%d messages before the lease ended, want 3", n)
	}
	e.set("2031-03-03T08:06:00Z")
	e.runOnce(other)
	msgs := sk.messages()
	if len(msgs) != 4 || msgs[3].To != msgs[0].To || msgs[3].MessageID != msgs[0].MessageID {
		t.Fatalf("after the lease: %d messages; want the first one once more with its Message-ID", len(msgs))
	}
	rep := e.report(e.rounds()[0].ID)
	if countOf(rep, "invite", "sent") != 3 {
		t.Fatalf("delivery report %+v", rep.Counts)
	}
}

// The demo's open round is closed by the scheduler when its time is up,
// and its release then appears: the reports' latest round is that round.
// The demo organisation is seeded as the demo does; its open round is
// launched as demo.History launches it last (Launch at the start time),
// without replaying the year before it (half a minute, covered by the demo
// package's own test).
func TestSchedulerClosesDemoRound(t *testing.T) {
	start := time.Now().UTC().Truncate(time.Second)
	e := &schedEnv{t: t, ctx: t.Context(), clock: surveytest.NewClock(start), opts: surveytest.NewDatabase(t), closes: map[uint]int{}}
	master := make([]byte, 32)
	rand.Read(master)
	var err error
	if e.kr, err = survey.NewKeyring(master); err != nil {
		t.Fatal(err)
	}
	e.db = e.open()
	if err := migrations.Up(e.ctx, e.db); err != nil {
		t.Fatal(err)
	}
	e.svc = e.services(e.db)
	if _, err := demo.Ensure(e.ctx, e.svc); err != nil {
		t.Fatal(err)
	}
	progs, err := e.svc.Programs.Programs(e.ctx)
	if err != nil || len(progs) == 0 {
		t.Fatalf("demo programs: %v %v", progs, err)
	}
	if _, err := e.svc.Rounds.Launch(e.ctx, progs[0].ID); err != nil {
		t.Fatal(err)
	}
	rs := e.rounds()
	live := rs[len(rs)-1]
	if live.Status != survey.RoundOpen {
		t.Fatalf("the demo's latest round is %s", live.Status)
	}
	// A dozen people answer the open round.
	links, err := e.svc.Rounds.Links(e.ctx, live.ID)
	if err != nil {
		t.Fatal(err)
	}
	manifest, _, err := e.svc.Rounds.Manifest(e.ctx, live.ID)
	if err != nil {
		t.Fatal(err)
	}
	answered := 0
	for _, l := range links {
		v, err := e.svc.Rounds.SurveyBySecret(e.ctx, l.Secret)
		if err != nil {
			t.Fatal(err)
		}
		if v.TokenIssued {
			continue
		}
		tok, err := survey.ObtainToken(manifest, live.ID, v.UnitID, v.KeyID, func(b []byte) ([]byte, error) {
			return e.svc.Rounds.IssueToken(e.ctx, l.Secret, b)
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
		if err := e.svc.Rounds.SubmitBallot(e.ctx, in); err != nil {
			t.Fatal(err)
		}
		if answered++; answered == 12 {
			break
		}
	}

	s := survey.NewScheduler(e.svc, survey.SchedulerOptions{BaseURL: schedBaseURL})
	e.runOnce(s)
	if r, _ := e.svc.Rounds.Round(e.ctx, live.ID); r.Status != survey.RoundOpen {
		t.Fatalf("the demo round closed early: %s", r.Status)
	}
	e.clock.Set(live.ClosesAt.Add(time.Minute))
	e.runOnce(s)
	r, err := e.svc.Rounds.Round(e.ctx, live.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != survey.RoundClosed || e.closes[live.ID] != 1 {
		t.Fatalf("after its close time the demo round is %s, released %d times", r.Status, e.closes[live.ID])
	}
	tr, err := e.svc.Org.Tree(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := (&reports.Reader{DB: e.db}).Report(e.ctx, tr.Root.ID)
	if err != nil {
		t.Fatal(err)
	}
	if last := rep.Rounds[len(rep.Rounds)-1]; last.ID != live.ID || rep.Respondents != answered {
		t.Fatalf("the dashboard's latest round is %d with %d respondents, want round %d with %d", last.ID, rep.Respondents, live.ID, answered)
	}
}

// A round closed early by hand gets no reminders; a release that failed
// after the close is run again by the close job's retry.
func TestSchedulerEarlyCloseAndReleaseRetry(t *testing.T) {
	sk := startSink(t)
	e := newSchedEnv(t, schedSetup{start: utc("2031-03-01T12:00:00Z"), people: 4})
	s := e.instance(sk.mailer(t))
	e.set("2031-03-03T08:00:00Z")
	e.runOnce(s)
	r := e.rounds()[0].ID
	if err := e.svc.Rounds.Close(e.ctx, r); err != nil {
		t.Fatal(err)
	}
	e.set("2031-03-09T08:00:00Z") // past both reminder times and the close time
	e.runOnce(s)
	if n := len(sk.count("Reminder")); n != 0 {
		t.Fatalf("%d reminders for a closed round", n)
	}
	if n := len(sk.messages()); n != 4 {
		t.Fatalf("%d messages, want the 4 invitations only", n)
	}

	// The next round's release fails once.
	fails := 1
	release := counted(&e.mu, e.closes)
	svc := e.servicesWith(e.open(), releaseFunc(func(ctx context.Context, tx *gorm.DB, id uint) error {
		if fails > 0 {
			fails--
			return errors.New("release: disk full")
		}
		return release(ctx, tx, id)
	}))
	s2 := survey.NewScheduler(svc, survey.SchedulerOptions{BaseURL: schedBaseURL})
	e.set("2031-03-10T08:00:00Z")
	e.runOnce(s2)
	rs := e.rounds()
	if len(rs) != 2 || rs[1].Status != survey.RoundOpen {
		t.Fatalf("rounds: %+v", rs)
	}
	next := rs[1].ID
	releases := func() int64 {
		var n int64
		if err := e.db.Table("releases").Where("round_id = ?", next).Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}
	e.set("2031-03-15T08:00:00Z")
	e.runOnce(s2)
	if r, _ := e.svc.Rounds.Round(e.ctx, next); r.Status != survey.RoundClosed || releases() != 0 {
		t.Fatalf("round %s with %d releases, want closed with its release failed", r.Status, releases())
	}
	e.set("2031-03-15T08:01:00Z") // after the first backoff
	e.runOnce(s2)
	if n := releases(); n != 1 || e.closes[next] != 1 {
		t.Fatalf("%d releases of round %d", n, next)
	}
}
