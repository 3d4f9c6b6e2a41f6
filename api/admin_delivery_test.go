package api_test

import (
	"context"
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulse-survey/pulse/survey"
)

// recordingMailer is a Mailer that refuses some addresses for good.
type recordingMailer struct {
	mu     sync.Mutex
	sent   []survey.Email
	refuse map[string]bool
}

func (m *recordingMailer) Send(_ context.Context, e survey.Email) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.refuse[e.To] {
		return &survey.MailError{Reason: "550 5.1.1 no such mailbox"}
	}
	m.sent = append(m.sent, e)
	return nil
}

// Without email, admins download the open round's links; nobody else can.
func TestAdminLinksCSV(t *testing.T) {
	e := newSurveyEnv(t)
	e.admin("hr@acme.example")
	path := "/admin/rounds/" + strconv.FormatUint(uint64(e.round.ID), 10)

	anon := e.client()
	wantStatus(t, anon.get(path+"/links.csv"), http.StatusSeeOther)
	leader := e.client()
	e.leader("lead@acme.example", e.root())
	leader.login("lead@acme.example")
	wantStatus(t, leader.get(path+"/links.csv"), http.StatusForbidden)
	wantStatus(t, leader.get(path+"/delivery"), http.StatusForbidden)

	c := e.client()
	c.login("hr@acme.example")
	page := c.get(path + "/delivery")
	wantStatus(t, page, http.StatusOK)
	wantContains(t, page.Body, "Download the links", path+"/links.csv")

	before := e.auditCount()
	r := c.get(path + "/links.csv")
	wantStatus(t, r, http.StatusOK)
	if got := wantNewAudit(t, e.harness, before, 1); got[0].Action != "round.links_export" {
		t.Fatalf("audit action %q, want round.links_export", got[0].Action)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Fatalf("content type %q", ct)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("cache control %q, want no-store", cc)
	}
	rows, err := csv.NewReader(strings.NewReader(r.Body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+len(e.links) || strings.Join(rows[0], ",") != "email,name,link" {
		t.Fatalf("csv:\n%s", r.Body)
	}
	for i, l := range e.links {
		if rows[i+1][0] != l.Email || rows[i+1][2] != baseURL+"/s/"+l.Secret {
			t.Fatalf("row %d: %v, want %s and their link", i+1, rows[i+1], l.Email)
		}
	}

	// Closed: the links no longer work and are not exported.
	if err := e.svc.Rounds.Close(e.ctx, e.round.ID); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, c.get(path+"/links.csv"), http.StatusGone)
	wantContains(t, c.get(path+"/delivery").Body, "links no longer work")
}

// With email, the delivery page shows counts and failures with reasons,
// and the links are not exported.
func TestAdminDeliveryPage(t *testing.T) {
	e := newSurveyEnv(t)
	e.admin("hr@acme.example")
	m := &recordingMailer{refuse: map[string]bool{e.links[3].Email: true}}
	s := survey.NewScheduler(e.svc, survey.SchedulerOptions{Mailer: m, BaseURL: baseURL})
	if err := s.RunOnce(e.ctx); err != nil {
		t.Fatal(err)
	}
	if len(m.sent) != len(e.links)-1 {
		t.Fatalf("%d invitations sent, want %d", len(m.sent), len(e.links)-1)
	}
	path := "/admin/rounds/" + strconv.FormatUint(uint64(e.round.ID), 10)
	c := e.client()
	c.login("hr@acme.example")
	page := c.get(path + "/delivery")
	wantStatus(t, page, http.StatusOK)
	wantContains(t, page.Body, "<td class=\"num\">11</td>", e.links[3].Email, "550 5.1.1 no such mailbox")
	wantNotContains(t, page.Body, "Download the links", e.links[0].Email)
	wantStatus(t, c.get(path+"/links.csv"), http.StatusConflict)
	wantStatus(t, c.get("/admin/rounds/999/delivery"), http.StatusNotFound)

	// The scheduler closes the round at its time; the page says so.
	e.clock.Advance(6 * 24 * time.Hour)
	if err := s.RunOnce(e.ctx); err != nil {
		t.Fatal(err)
	}
	r, err := e.svc.Rounds.Round(e.ctx, e.round.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != survey.RoundClosed {
		t.Fatalf("round %s after its close time", r.Status)
	}
	c = e.client() // the session ended with the days that passed
	c.login("hr@acme.example")
	closed := c.get(path + "/delivery")
	wantStatus(t, closed, http.StatusOK)
	wantContains(t, closed.Body, "Status: closed")
}
