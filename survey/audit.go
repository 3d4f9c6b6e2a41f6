package survey

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
)

// Audit actions recorded by Pulse. Admin routes without an entry here are
// recorded under a name derived from their route (see the api package).
const (
	AuditSettingsUpdate = "settings.update"
	AuditRoundLaunch    = "round.launch"
	AuditRoundClose     = "round.close"
	AuditCommentRelease = "comment.release"
	AuditCommentRedact  = "comment.redact"
	AuditReportView     = "report.view"
	AuditTokenCreate    = "token.create"
	AuditTokenRevoke    = "token.revoke"
	AuditLinksExport    = "round.links_export"
	AuditProgramDelete  = "program.delete"
)

// Audit list bounds.
const (
	DefaultAuditLimit = 50
	MaxAuditLimit     = 200
)

// ErrAuditInvalid means an audit entry lacks its actor or action.
var ErrAuditInvalid = errors.New("audit entry needs an actor and an action")

// AuditEntry is one row of the audit log: who did what to which target, and
// when. It never holds survey answers, comment text or anything typed by
// employees; Detail is a short, admin-facing note.
//
// The audit log is not an anonymity table: it records what admins and
// leaders do, never what employees do. Survey routes write nothing here.
type AuditEntry struct {
	ID uint `gorm:"primaryKey"`
	// At is when the action happened, in UTC.
	At time.Time `gorm:"not null"`
	// ActorUserID is the signed-in account, or nil for an API token.
	ActorUserID *uint
	// ActorTokenID is the API token, or nil for a signed-in account.
	ActorTokenID *uint
	// ActorLabel is the actor's name and email (or token name and prefix)
	// at the time, so the entry still reads right after renames.
	ActorLabel string `gorm:"size:400;not null"`
	Action     string `gorm:"size:60;not null"`
	// Target names the object acted on, e.g. "unit:12" or "round:3".
	Target string `gorm:"size:200;not null"`
	Detail string `gorm:"size:1000;not null"`
}

// TableName names the audit table.
func (AuditEntry) TableName() string { return "audit_log" }

// ActorOf fills the entry's actor fields from a principal.
func (e *AuditEntry) ActorOf(p *Principal) {
	if p == nil {
		return
	}
	if p.TokenID != 0 {
		id := p.TokenID
		e.ActorTokenID = &id
		e.ActorUserID = nil
		e.ActorLabel = "API token " + p.User.Name
		return
	}
	id := p.User.ID
	e.ActorUserID = &id
	e.ActorTokenID = nil
	e.ActorLabel = fmt.Sprintf("%s <%s>", p.User.Name, p.User.Email)
}

// AuditFilter selects audit entries, newest first.
type AuditFilter struct {
	// Limit is the page size: DefaultAuditLimit when 0, at most MaxAuditLimit.
	Limit int
	// Before, when not 0, returns only entries older than the entry with this id
	// (the cursor of the next page).
	Before uint
	// Action, when set, returns only entries of this action.
	Action string
}

// AuditPage is one page of the audit log.
type AuditPage struct {
	Entries []AuditEntry
	// Next is the Before cursor of the following page, or 0 on the last page.
	Next uint
}

// AuditService records and lists the audit log.
type AuditService struct {
	db  *gorm.DB
	now func() time.Time
}

// Audit returns the audit service over the services' database.
func (s *Services) Audit() *AuditService {
	return &AuditService{db: s.DB, now: s.utcClock()}
}

// utcClock returns the services' clock in UTC.
func (s *Services) utcClock() func() time.Time {
	now := s.opts.Now
	if now == nil {
		now = time.Now
	}
	return func() time.Time { return now().UTC() }
}

// Record appends an entry. At is set from the clock when zero; long texts
// are cut to the column sizes.
func (s *AuditService) Record(ctx context.Context, e AuditEntry) error {
	if (e.ActorUserID == nil && e.ActorTokenID == nil) || strings.TrimSpace(e.Action) == "" {
		return fmt.Errorf("survey: audit: %w", ErrAuditInvalid)
	}
	e.ID = 0
	if e.At.IsZero() {
		e.At = s.now()
	}
	e.At = e.At.UTC()
	e.ActorLabel = auditClip(e.ActorLabel, 400)
	e.Action = auditClip(e.Action, 60)
	e.Target = auditClip(e.Target, 200)
	e.Detail = auditClip(e.Detail, 1000)
	return dbErr("audit", s.db.WithContext(ctx).Create(&e).Error)
}

// List returns a page of entries, newest first.
func (s *AuditService) List(ctx context.Context, f AuditFilter) (*AuditPage, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultAuditLimit
	}
	if limit > MaxAuditLimit {
		limit = MaxAuditLimit
	}
	q := s.db.WithContext(ctx).Model(&AuditEntry{})
	if f.Before != 0 {
		q = q.Where("id < ?", f.Before)
	}
	if f.Action != "" {
		q = q.Where("action = ?", f.Action)
	}
	// Ids grow with insertion, so they order entries even when two share
	// the same instant.
	var es []AuditEntry
	if err := q.Order("id DESC").Limit(limit + 1).Find(&es).Error; err != nil {
		return nil, dbErr("audit list", err)
	}
	for i := range es {
		es[i].At = es[i].At.UTC()
	}
	page := &AuditPage{Entries: es}
	if len(es) > limit {
		page.Entries = es[:limit]
		page.Next = es[limit-1].ID
	}
	return page, nil
}

// Actions lists the distinct actions in the log, for filters.
func (s *AuditService) Actions(ctx context.Context) ([]string, error) {
	var out []string
	if err := s.db.WithContext(ctx).Model(&AuditEntry{}).Distinct("action").Order("action").Pluck("action", &out).Error; err != nil {
		return nil, dbErr("audit actions", err)
	}
	return out, nil
}

// auditClip cuts s to at most n bytes without splitting a UTF-8 sequence.
func auditClip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
