package survey_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pulse-survey/pulse/survey"
)

func TestAuditRecordAndList(t *testing.T) {
	e := newOrgEnv(t)
	audit := e.svc.Audit()
	admin := e.user(survey.RoleAdmin, "hr@acme.example", "correct horse battery")
	p, err := e.svc.Accounts.Principal(e.ctx, admin)
	if err != nil {
		t.Fatal(err)
	}

	// 7 entries, alternating actions, one second apart.
	for i := 0; i < 7; i++ {
		ent := survey.AuditEntry{Action: survey.AuditReportView, Target: fmt.Sprintf("unit:%d", i)}
		if i%2 == 1 {
			ent.Action = survey.AuditRoundClose
		}
		ent.ActorOf(p)
		if err := audit.Record(e.ctx, ent); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Second)
	}

	page, err := audit.List(e.ctx, survey.AuditFilter{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Entries) != 3 || page.Next == 0 {
		t.Fatalf("first page: %d entries, next %d", len(page.Entries), page.Next)
	}
	first := page.Entries[0]
	if first.Target != "unit:6" || first.Action != survey.AuditReportView {
		t.Errorf("newest entry %+v, want unit:6 report.view", first)
	}
	if first.ActorUserID == nil || *first.ActorUserID != admin.ID || first.ActorTokenID != nil {
		t.Errorf("actor ids %v %v", first.ActorUserID, first.ActorTokenID)
	}
	if first.ActorLabel != "User hr@acme.example <hr@acme.example>" {
		t.Errorf("actor label %q", first.ActorLabel)
	}
	if want := time.Date(2031, time.March, 3, 9, 0, 6, 0, time.UTC); !first.At.Equal(want) || first.At.Location() != time.UTC {
		t.Errorf("at %v, want %v in UTC", first.At, want)
	}

	// Walk all pages: every entry once, newest first.
	var targets []string
	var before uint
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		pg, err := audit.List(e.ctx, survey.AuditFilter{Limit: 3, Before: before})
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range pg.Entries {
			targets = append(targets, en.Target)
		}
		if pg.Next == 0 {
			break
		}
		before = pg.Next
	}
	if got := strings.Join(targets, ","); got != "unit:6,unit:5,unit:4,unit:3,unit:2,unit:1,unit:0" {
		t.Errorf("pages give %s", got)
	}

	closes, err := audit.List(e.ctx, survey.AuditFilter{Action: survey.AuditRoundClose})
	if err != nil {
		t.Fatal(err)
	}
	if len(closes.Entries) != 3 || closes.Next != 0 {
		t.Errorf("round.close entries: %d, next %d", len(closes.Entries), closes.Next)
	}
	for _, en := range closes.Entries {
		if en.Action != survey.AuditRoundClose {
			t.Errorf("filter returned %s", en.Action)
		}
	}

	acts, err := audit.Actions(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(acts, ",") != "report.view,round.close" {
		t.Errorf("actions %v", acts)
	}
}

func TestAuditTokenActorAndValidation(t *testing.T) {
	e := newOrgEnv(t)
	audit := e.svc.Audit()

	tok := survey.AuditEntry{Action: survey.AuditReportView, Target: "unit:1"}
	tok.ActorOf(&survey.Principal{User: survey.User{Name: "nightly export", Role: survey.RoleLeader}, TokenID: 42})
	if err := audit.Record(e.ctx, tok); err != nil {
		t.Fatal(err)
	}
	page, err := audit.List(e.ctx, survey.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	got := page.Entries[0]
	if got.ActorUserID != nil || got.ActorTokenID == nil || *got.ActorTokenID != 42 || got.ActorLabel != "API token nightly export" {
		t.Errorf("token actor: %+v", got)
	}

	// No actor or no action: refused, nothing written.
	wantIs(t, audit.Record(e.ctx, survey.AuditEntry{Action: "x"}), survey.ErrAuditInvalid)
	uid := uint(1)
	wantIs(t, audit.Record(e.ctx, survey.AuditEntry{ActorUserID: &uid, Action: " "}), survey.ErrAuditInvalid)

	// Over-long texts are cut to the columns, not refused.
	long := survey.AuditEntry{ActorUserID: &uid, ActorLabel: strings.Repeat("é", 300), Action: "settings.update",
		Target: strings.Repeat("t", 500), Detail: strings.Repeat("d", 5000)}
	if err := audit.Record(e.ctx, long); err != nil {
		t.Fatal(err)
	}
	page, err = audit.List(e.ctx, survey.AuditFilter{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if g := page.Entries[0]; len(g.ActorLabel) > 400 || len(g.Target) > 200 || len(g.Detail) > 1000 || !strings.HasPrefix(g.ActorLabel, "éé") {
		t.Errorf("clipped entry: label %d, target %d, detail %d bytes", len(g.ActorLabel), len(g.Target), len(g.Detail))
	}

	// Limits are bounded.
	page, err = audit.List(e.ctx, survey.AuditFilter{Limit: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Entries) != 2 {
		t.Errorf("%d entries", len(page.Entries))
	}
}
