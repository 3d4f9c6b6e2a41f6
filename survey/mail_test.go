package survey_test

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/pulse-survey/pulse/survey"
)

// SMTP replies decide between retrying and reporting.
func TestSMTPMailerClassifiesFailures(t *testing.T) {
	sk := startSink(t)
	m := sk.mailer(t)
	mail := func(to string) survey.Email {
		return survey.Email{To: to, ToName: "Someone", Subject: "Hello", Text: "text", HTML: "<p>html</p>", MessageID: "abc@pulse.test"}
	}
	sk.setFail(func(stage, rcpt string, _ int) *smtp.SMTPError {
		switch {
		case strings.HasPrefix(rcpt, "busy") && stage == "rcpt":
			return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "busy"}
		case strings.HasPrefix(rcpt, "greylisted") && stage == "data":
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "later"}
		case strings.HasPrefix(rcpt, "gone"):
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		case strings.HasPrefix(rcpt, "spam") && stage == "data":
			return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "rejected"}
		}
		return nil
	})
	cases := []struct {
		to        string
		ok        bool
		temporary bool
		reason    string
	}{
		{"fine@acme.example", true, false, ""},
		{"busy@acme.example", false, true, "421"},
		{"greylisted@acme.example", false, true, "451"},
		{"gone@acme.example", false, false, "550"},
		{"spam@acme.example", false, false, "554"},
		{"not an address", false, false, "invalid recipient"},
	}
	for _, c := range cases {
		err := m.Send(t.Context(), mail(c.to))
		if c.ok {
			if err != nil {
				t.Errorf("%s: %v", c.to, err)
			}
			continue
		}
		var me *survey.MailError
		if !errors.As(err, &me) {
			t.Errorf("%s: error %v is not a *MailError", c.to, err)
			continue
		}
		if me.Temporary != c.temporary || !strings.Contains(me.Reason, c.reason) {
			t.Errorf("%s: temporary=%v reason %q, want temporary=%v and %q", c.to, me.Temporary, me.Reason, c.temporary, c.reason)
		}
	}
	if n := len(sk.messages()); n != 1 {
		t.Errorf("%d messages accepted, want 1", n)
	}

	// A server that is down is a passing problem.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	down, err := survey.NewSMTPMailer(survey.SMTPConfig{Host: "127.0.0.1", Port: port, From: "pulse@acme.example", TLS: "none", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var me *survey.MailError
	if err := down.Send(t.Context(), mail("fine@acme.example")); !errors.As(err, &me) || !me.Temporary {
		t.Errorf("server down: %v, want a temporary MailError", err)
	}
}

func TestNewSMTPMailerChecksConfig(t *testing.T) {
	for _, c := range []survey.SMTPConfig{
		{Host: "", From: "pulse@acme.example"},
		{Host: "smtp.acme.example", From: "not an address"},
		{Host: "smtp.acme.example", From: "pulse@acme.example", TLS: "ssl3"},
	} {
		if _, err := survey.NewSMTPMailer(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if _, err := survey.NewSMTPMailer(survey.SMTPConfig{Host: "smtp.acme.example", From: "Pulse <pulse@acme.example>"}); err != nil {
		t.Error(err)
	}
}

// An organisation's template replaces the built-in one after it was
// checked; the HTML part escapes what it shows.
func TestMailTemplateOverride(t *testing.T) {
	sk := startSink(t)
	e := newSchedEnv(t, schedSetup{start: utc("2031-03-01T12:00:00Z"), people: 3})
	if _, err := e.svc.Org.UpdateSettings(e.ctx, survey.SettingsInput{Name: "A&B <Team>", TimeZone: "America/New_York", MinGroupSize: 3}); err != nil {
		t.Fatal(err)
	}
	err := e.svc.SetMailTemplate(e.ctx, survey.MailTemplate{Kind: survey.MailInvite, Subject: "{{.Nope}}"})
	wantField(t, err, "template")
	wantField(t, e.svc.SetMailTemplate(e.ctx, survey.MailTemplate{Kind: "digest"}), "kind")
	if err := e.svc.SetMailTemplate(e.ctx, survey.MailTemplate{Kind: survey.MailInvite,
		Subject: "Pulse #{{.RoundNumber}} for {{.OrgName}}", HTML: "<p>{{.OrgName}}: <a href=\"{{.Link}}\">answer</a></p>"}); err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.MailTemplate(e.ctx, survey.MailInvite)
	if err != nil {
		t.Fatal(err)
	}
	if got.Text != survey.DefaultMailTemplates[survey.MailInvite].Text {
		t.Fatal("an empty text part did not fall back to the built-in one")
	}
	s := e.instance(sk.mailer(t))
	e.set("2031-03-03T14:00:00Z") // Monday 09:00 in New York
	e.runOnce(s)
	msgs := sk.messages()
	if len(msgs) != 3 {
		t.Fatalf("%d messages", len(msgs))
	}
	m := msgs[0]
	if m.Subject != "Pulse #1 for A&B <Team>" {
		t.Errorf("subject %q", m.Subject)
	}
	if !strings.Contains(m.HTML, "A&amp;B &lt;Team&gt;:") || strings.Contains(m.HTML, "<Team>") {
		t.Errorf("html part not escaped: %s", m.HTML)
	}
	if !strings.Contains(m.Text, "Saturday, 8 March 2031, 09:00 EST") || !strings.Contains(m.Text, schedBaseURL+"/anonymity") {
		t.Errorf("text part: %s", m.Text)
	}
}
