package survey

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net/mail"
	"strings"
	texttemplate "text/template"
	"time"

	gomail "github.com/wneessen/go-mail"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Email kinds: the template used and the delivery kind recorded.
const (
	MailInvite  = "invite"
	MailRemind  = "remind"
	DeliveryInv = "invite"
	DeliveryR1  = "remind1"
	DeliveryR2  = "remind2"
)

// Delivery statuses.
const (
	DeliveryQueued  = "queued"
	DeliverySending = "sending"
	DeliverySent    = "sent"
	DeliveryFailed  = "failed"
	DeliverySkipped = "skipped"
)

// Delivery is the status of one email to one invitee. It says nothing
// about answers; a reminder row only says the invitee had no token when the
// reminder was due (admins may know who took part, docs/ANONYMITY.md section 4).
type Delivery struct {
	InvitationID uint   `gorm:"primaryKey;autoIncrement:false"`
	Kind         string `gorm:"primaryKey;size:20"`
	RoundID      uint   `gorm:"not null;index"`
	Status       string `gorm:"size:20;not null"`
	Reason       string `gorm:"size:1000;not null"`
	Attempts     int    `gorm:"not null"`
	UpdatedAt    time.Time
}

// MailTemplate is an organisation's override of a built-in email template
// (Kind MailInvite or MailRemind). Subject and Text are text/template,
// HTML is html/template, all over MailData.
type MailTemplate struct {
	Kind      string `gorm:"primaryKey;size:20"`
	Subject   string `gorm:"size:300;not null"`
	Text      string `gorm:"size:20000;not null"`
	HTML      string `gorm:"size:50000;not null"`
	UpdatedAt time.Time
}

// MailData is everything an invitation or reminder may show. It holds
// nothing about answers or about anyone but the recipient, so no template
// can leak them.
type MailData struct {
	OrgName       string
	RecipientName string
	ProgramName   string
	RoundNumber   int
	// Link is the recipient's personal survey link.
	Link string
	// ClosesAt is the closing time in the organisation's time zone.
	ClosesAt string
	// ManifestHash is the SHA-256 of the round's key manifest; the survey
	// page shows the same value, so everyone can check they got the same keys.
	ManifestHash string
	// Reminder is 0 for the invitation, 1 or 2 for the reminders.
	Reminder int
}

// Email is one rendered message.
type Email struct {
	To, ToName string
	Subject    string
	Text, HTML string
	// MessageID is stable per (round, invitee, kind), so a rare resend after
	// a crash carries the same Message-ID and mail systems can fold it.
	MessageID string
}

// Mailer sends email. SMTPMailer is the production one.
type Mailer interface {
	Send(ctx context.Context, e Email) error
}

// MailError is a failed send: Temporary ones are retried with backoff,
// permanent ones are reported to admins.
type MailError struct {
	Temporary bool
	Reason    string
	Err       error
}

// Error is the reason, as the mail server or the connection gave it.
func (e *MailError) Error() string { return e.Reason }

// Unwrap returns the underlying error.
func (e *MailError) Unwrap() error { return e.Err }

// DefaultMailTemplates are the built-in templates.
var DefaultMailTemplates = map[string]MailTemplate{
	MailInvite: {
		Kind:    MailInvite,
		Subject: `{{.OrgName}} pulse: your anonymous survey is open`,
		Text: `Hello {{.RecipientName}},

a new round of "{{.ProgramName}}" at {{.OrgName}} is open until {{.ClosesAt}}.
It takes a few minutes. Your answers are anonymous: nobody, not your
manager, HR or the people running the server, can see what you answered.

Your personal link (do not forward it):
{{.Link}}

Key fingerprint of this round: {{.ManifestHash}}
The survey page shows the same fingerprint; if it differs, do not answer.

How anonymity works: {{.Link | baseOf}}/anonymity
`,
		HTML: `<!doctype html>
<html><body style="font-family:sans-serif;line-height:1.5">
<p>Hello {{.RecipientName}},</p>
<p>a new round of “{{.ProgramName}}” at {{.OrgName}} is open until <strong>{{.ClosesAt}}</strong>.
It takes a few minutes. Your answers are anonymous: nobody, not your manager, HR or the people
running the server, can see what you answered.</p>
<p><a href="{{.Link}}">Answer the survey</a> (your personal link; do not forward it)</p>
<p style="font-size:small">Key fingerprint of this round: <code>{{.ManifestHash}}</code><br>
The survey page shows the same fingerprint; if it differs, do not answer.
<a href="{{.Link | baseOf}}/anonymity">How anonymity works</a></p>
</body></html>
`,
	},
	MailRemind: {
		Kind:    MailRemind,
		Subject: `Reminder: {{.OrgName}} pulse closes {{.ClosesAt}}`,
		Text: `Hello {{.RecipientName}},

the current round of "{{.ProgramName}}" at {{.OrgName}} closes {{.ClosesAt}}.
If you have not answered yet and want to, here is your personal link:
{{.Link}}

This reminder goes to everyone whose link has not been used yet. It says
nothing about answers; they stay anonymous.

Key fingerprint of this round: {{.ManifestHash}}
`,
		HTML: `<!doctype html>
<html><body style="font-family:sans-serif;line-height:1.5">
<p>Hello {{.RecipientName}},</p>
<p>the current round of “{{.ProgramName}}” at {{.OrgName}} closes <strong>{{.ClosesAt}}</strong>.
If you have not answered yet and want to, here is <a href="{{.Link}}">your personal link</a>.</p>
<p>This reminder goes to everyone whose link has not been used yet. It says nothing about answers;
they stay anonymous.</p>
<p style="font-size:small">Key fingerprint of this round: <code>{{.ManifestHash}}</code></p>
</body></html>
`,
	},
}

// baseOf cuts a survey link back to the server's base URL.
func baseOf(link string) string {
	if i := strings.Index(link, "/s/"); i >= 0 {
		return link[:i]
	}
	return link
}

var mailFuncs = map[string]any{"baseOf": baseOf}

// renderMail fills a template with d.
func renderMail(t MailTemplate, d MailData) (subject, text, html string, err error) {
	st, err := texttemplate.New("subject").Funcs(mailFuncs).Parse(t.Subject)
	if err != nil {
		return "", "", "", fmt.Errorf("subject: %w", err)
	}
	tt, err := texttemplate.New("text").Funcs(mailFuncs).Parse(t.Text)
	if err != nil {
		return "", "", "", fmt.Errorf("text: %w", err)
	}
	ht, err := htmltemplate.New("html").Funcs(mailFuncs).Parse(t.HTML)
	if err != nil {
		return "", "", "", fmt.Errorf("html: %w", err)
	}
	var sb, tb, hb bytes.Buffer
	if err := st.Execute(&sb, d); err != nil {
		return "", "", "", fmt.Errorf("subject: %w", err)
	}
	if err := tt.Execute(&tb, d); err != nil {
		return "", "", "", fmt.Errorf("text: %w", err)
	}
	if err := ht.Execute(&hb, d); err != nil {
		return "", "", "", fmt.Errorf("html: %w", err)
	}
	// A subject is one line.
	subject = strings.Join(strings.Fields(sb.String()), " ")
	return subject, tb.String(), hb.String(), nil
}

// MailTemplate returns the organisation's template of kind, or the
// built-in one.
func (s *Services) MailTemplate(ctx context.Context, kind string) (MailTemplate, error) {
	def, ok := DefaultMailTemplates[kind]
	if !ok {
		return MailTemplate{}, fmt.Errorf("survey: mail template %q: %w", kind, ErrNotFound)
	}
	var t MailTemplate
	err := s.DB.WithContext(ctx).Where("kind = ?", kind).First(&t).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return def, nil
	}
	if err != nil {
		return MailTemplate{}, dbErr("mail template", err)
	}
	return t, nil
}

// SetMailTemplate overrides a built-in template after checking that it
// renders. Empty parts fall back to the built-in ones.
func (s *Services) SetMailTemplate(ctx context.Context, t MailTemplate) error {
	def, ok := DefaultMailTemplates[t.Kind]
	if !ok {
		return &ValidationError{Fields: map[string]string{"kind": "choose invite or remind"}}
	}
	if strings.TrimSpace(t.Subject) == "" {
		t.Subject = def.Subject
	}
	if strings.TrimSpace(t.Text) == "" {
		t.Text = def.Text
	}
	if strings.TrimSpace(t.HTML) == "" {
		t.HTML = def.HTML
	}
	sample := MailData{OrgName: "Acme", RecipientName: "Alex", ProgramName: "Team pulse", RoundNumber: 1,
		Link: "https://pulse.example.com/s/x", ClosesAt: "Friday, 4 December 2026, 17:00 CET", ManifestHash: strings.Repeat("ab", 32)}
	if _, _, _, err := renderMail(t, sample); err != nil {
		return &ValidationError{Fields: map[string]string{"template": err.Error()}}
	}
	t.UpdatedAt = s.opts.Now().UTC()
	err := s.DB.WithContext(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "kind"}}, UpdateAll: true}).Create(&t).Error
	return dbErr("set mail template", err)
}

// SMTPConfig says how to reach the mail server.
type SMTPConfig struct {
	Host     string
	Port     int
	Username string
	Password string
	// From is the sender, e.g. "Pulse <pulse@example.com>".
	From string
	// TLS is starttls (default), tls (implicit, usually port 465) or none.
	TLS string
	// Timeout bounds one connection; default 30s.
	Timeout time.Duration
}

// SMTPMailer sends each email over its own SMTP connection.
type SMTPMailer struct {
	cfg  SMTPConfig
	from *mail.Address
}

// NewSMTPMailer checks the configuration.
func NewSMTPMailer(c SMTPConfig) (*SMTPMailer, error) {
	if c.Host == "" {
		return nil, errors.New("smtp: no host")
	}
	if c.Port == 0 {
		c.Port = 587
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	switch c.TLS {
	case "":
		c.TLS = "starttls"
	case "starttls", "tls", "none":
	default:
		return nil, fmt.Errorf("smtp: TLS mode %q: use starttls, tls or none", c.TLS)
	}
	from, err := mail.ParseAddress(c.From)
	if err != nil {
		return nil, fmt.Errorf("smtp: sender %q is not an email address", c.From)
	}
	return &SMTPMailer{cfg: c, from: from}, nil
}

// Send delivers one email. Errors are *MailError.
func (m *SMTPMailer) Send(ctx context.Context, e Email) error {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.FromMailAddress(m.from)
	if err := msg.AddToFormat(e.ToName, e.To); err != nil {
		return &MailError{Reason: "invalid recipient address: " + e.To, Err: err}
	}
	msg.Subject(e.Subject)
	if e.MessageID != "" {
		msg.SetMessageIDWithValue(e.MessageID)
	} else {
		msg.SetMessageID()
	}
	msg.SetDate()
	msg.SetBodyString(gomail.TypeTextPlain, e.Text)
	if e.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, e.HTML)
	}
	opts := []gomail.Option{gomail.WithPort(m.cfg.Port), gomail.WithTimeout(m.cfg.Timeout)}
	switch m.cfg.TLS {
	case "tls":
		opts = append(opts, gomail.WithSSL())
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if m.cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(m.cfg.Username), gomail.WithPassword(m.cfg.Password))
	}
	c, err := gomail.NewClient(m.cfg.Host, opts...)
	if err != nil {
		return &MailError{Reason: "smtp client: " + err.Error(), Err: err}
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return classifySMTP(err)
	}
	return nil
}

// classifySMTP decides whether a failure is worth retrying: 4xx replies and
// connection, TLS or authentication problems are temporary (the server or
// the configuration may be fixed); 5xx replies to the message or the
// recipient are permanent.
func classifySMTP(err error) *MailError {
	reason := oneLine(err.Error())
	var se *gomail.SendError
	if errors.As(err, &se) {
		switch {
		case se.IsTemp():
			return &MailError{Temporary: true, Reason: reason, Err: err}
		case se.Reason == gomail.ErrGetRcpts || se.Reason == gomail.ErrGetSender || se.Reason == gomail.ErrNoUnencoded:
			return &MailError{Reason: reason, Err: err}
		case se.ErrorCode() >= 500 && se.ErrorCode() < 600:
			return &MailError{Reason: reason, Err: err}
		}
	}
	return &MailError{Temporary: true, Reason: reason, Err: err}
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 900 {
		s = s[:900] + "…"
	}
	return s
}
