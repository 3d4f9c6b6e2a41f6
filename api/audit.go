package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pulse-survey/pulse/reports"
	"github.com/pulse-survey/pulse/survey"
)

// The audit log records what admins do and which reports anyone views.
// Employees' survey routes never write to it: the admin middleware sits only
// on the admin groups, and report views are recorded by the report handlers.

const auditNoteKey = "pulse.audit"

// auditNote is what a handler adds to the entry the admin middleware writes.
type auditNote struct {
	action, target, detail string
	skip                   bool
}

// noteAudit names the action, target or detail of the request's audit
// entry (empty values keep what the route gives). The entry is written only
// if the request succeeds. On a GET of an admin group, calling it is what
// makes the read recorded.
func noteAudit(c echo.Context, action, target, detail string) {
	c.Set(auditNoteKey, &auditNote{action: action, target: target, detail: detail})
}

// skipAudit marks a non-GET admin request that changes nothing (a preview).
func skipAudit(c echo.Context) {
	c.Set(auditNoteKey, &auditNote{skip: true})
}

// auditActions names the actions of admin routes whose derived name would
// read poorly. Other routes get a name from their path (see routeAction).
var auditActions = map[string]string{
	"POST /admin/settings":                   survey.AuditSettingsUpdate,
	"POST /admin/programs/:program/launch":   survey.AuditRoundLaunch,
	"POST /admin/rounds/:round/close":        survey.AuditRoundClose,
	"POST /admin/tokens":                     survey.AuditTokenCreate,
	"POST /admin/tokens/:id/revoke":          survey.AuditTokenRevoke,
	"POST /api/v1/admin/tokens":              survey.AuditTokenCreate,
	"DELETE /api/v1/admin/tokens/:id":        survey.AuditTokenRevoke,
	"POST /api/v1/admin/rounds":              survey.AuditRoundLaunch,
	"POST /api/v1/admin/leaders/invites":     "leader.invite",
	"POST /admin/programs/:program/delete":   survey.AuditProgramDelete,
	"DELETE /api/v1/admin/programs/:program": survey.AuditProgramDelete,
}

// auditAdmin records every successful state-changing request of an admin
// group: who, when, the action, its target (the route's id parameters) and
// the route. Failed and refused requests are not recorded, nor are reads,
// unless the handler called noteAudit (e.g. a sensitive export). New admin
// routes are covered without any code of their own.
func (s *Server) auditAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		if err != nil || anonymousRoute(c) {
			return err // survey routes are never audited, wherever mounted
		}
		if c.Response().Status >= http.StatusBadRequest {
			return nil // e.g. a form shown again with its errors
		}
		m := c.Request().Method
		note, _ := c.Get(auditNoteKey).(*auditNote)
		readOnly := m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
		if note != nil && note.skip || readOnly && note == nil {
			return nil
		}
		route := c.Path()
		e := survey.AuditEntry{Action: routeAction(m, route), Target: routeTarget(c), Detail: m + " " + route}
		if note != nil {
			if note.action != "" {
				e.Action = note.action
			}
			if note.target != "" {
				e.Target = note.target
			}
			if note.detail != "" {
				e.Detail = note.detail
			}
		}
		e.ActorOf(principal(c))
		// The change is done: record it even if the client went away, and
		// if the record fails, say so loudly rather than fail the request.
		if err := s.svc.Audit().Record(context.WithoutCancel(c.Request().Context()), e); err != nil {
			s.logger(c).Error("audit log write failed", "action", e.Action, "target", e.Target, "err", err)
		}
		return nil
	}
}

// auditReport records that the principal viewed a unit's report. It fails
// the request when the entry cannot be written: a report is never served
// unrecorded.
func (s *Server) auditReport(c echo.Context, p *survey.Principal, unitID uint, format, unitName string) error {
	if anonymousRoute(c) {
		return nil
	}
	e := survey.AuditEntry{Action: survey.AuditReportView, Target: fmt.Sprintf("unit:%d", unitID),
		Detail: format + ": " + unitName}
	e.ActorOf(p)
	return s.svc.Audit().Record(c.Request().Context(), e)
}

// unitLabel names a report's unit as its page title does.
func unitLabel(rep *reports.Report) string {
	if rep.Unit.Path != "" {
		return rep.Unit.Path
	}
	return rep.Unit.Name
}

// routeAction derives an action name from an admin route, e.g.
// "POST /admin/teams" team.create, "POST /admin/teams/:team/move" team.move,
// "POST /admin/leaders/invite" leader.invite, "DELETE /api/v1/admin/people/:person"
// person.delete.
func routeAction(method, route string) string {
	if a, ok := auditActions[method+" "+route]; ok {
		return a
	}
	rest := strings.TrimPrefix(route, "/api/v1")
	rest = strings.TrimPrefix(rest, "/admin")
	segs := strings.FieldsFunc(rest, func(r rune) bool { return r == '/' })
	var words []string
	for i, sg := range segs {
		if strings.HasPrefix(sg, ":") || sg == "*" {
			continue
		}
		if i+1 < len(segs) {
			sg = singular(sg) // a collection before an id or a verb
		}
		words = append(words, sg)
	}
	endsWithParam := len(segs) > 0 && strings.HasPrefix(segs[len(segs)-1], ":")
	switch {
	case len(words) == 0:
		return "admin." + strings.ToLower(method)
	case method == http.MethodDelete:
		return strings.Join(words, ".") + ".delete"
	case method == http.MethodPut || method == http.MethodPatch || method == http.MethodPost && endsWithParam:
		return strings.Join(words, ".") + ".update"
	case method == http.MethodPost && len(segs) == 1:
		return singular(words[0]) + ".create"
	}
	return strings.Join(words, ".")
}

// routeTarget names the objects of a request by its route parameters, e.g.
// "round:3"; a parameter called id takes the name of the segment before it.
func routeTarget(c echo.Context) string {
	names, values := c.ParamNames(), c.ParamValues()
	segs := strings.Split(c.Path(), "/")
	var out []string
	for i, n := range names {
		if i >= len(values) || n == "*" {
			continue
		}
		if n == "id" {
			for j, sg := range segs {
				if sg == ":id" && j > 0 {
					n = singular(segs[j-1])
				}
			}
		}
		out = append(out, n+":"+values[i])
	}
	return strings.Join(out, ",")
}

func singular(w string) string {
	switch {
	case w == "people":
		return "person"
	case w == "settings" || w == "status" || w == "access" || strings.HasSuffix(w, "ss"):
		return w
	case strings.HasSuffix(w, "ies") && len(w) > 4:
		return w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "s") && len(w) > 3:
		return w[:len(w)-1]
	}
	return w
}

// --- audit log page and API -----------------------------------------------------

type auditQuery struct {
	limit  int
	before uint
	action string
}

func parseAuditQuery(c echo.Context) (auditQuery, error) {
	q := auditQuery{action: strings.TrimSpace(c.QueryParam("action"))}
	v := map[string]string{}
	if b := c.QueryParam("before"); b != "" {
		n, err := strconv.ParseUint(b, 10, 32)
		if err != nil || n == 0 {
			v["before"] = "use the id of an entry"
		}
		q.before = uint(n)
	}
	if l := c.QueryParam("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > survey.MaxAuditLimit {
			v["limit"] = fmt.Sprintf("use a number from 1 to %d", survey.MaxAuditLimit)
		}
		q.limit = n
	}
	if len(q.action) > 60 {
		v["action"] = "use at most 60 characters"
	}
	if len(v) > 0 {
		return q, &survey.ValidationError{Fields: v}
	}
	return q, nil
}

type auditView struct {
	Entries []survey.AuditEntry
	Actions []string
	Action  string
	// Next is the cursor of the older page, 0 on the last page.
	Next   uint
	Before uint
}

// adminAudit shows the audit log, newest first, one page at a time.
func (s *Server) adminAudit(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	q, err := parseAuditQuery(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	audit := s.svc.Audit()
	page, err := audit.List(ctx, survey.AuditFilter{Limit: q.limit, Before: q.before, Action: q.action})
	if err != nil {
		return err
	}
	actions, err := audit.Actions(ctx)
	if err != nil {
		return err
	}
	v := auditView{Entries: page.Entries, Actions: actions, Action: q.action, Next: page.Next, Before: q.before}
	return c.Render(http.StatusOK, "audit.html", s.page(c, "Audit log", v))
}

type auditActorJSON struct {
	Type  string `json:"type"`
	ID    uint   `json:"id"`
	Label string `json:"label"`
}

type auditEntryJSON struct {
	ID     uint           `json:"id"`
	At     time.Time      `json:"at"`
	Actor  auditActorJSON `json:"actor"`
	Action string         `json:"action"`
	Target string         `json:"target"`
	Detail string         `json:"detail"`
}

func auditJSON(e survey.AuditEntry) auditEntryJSON {
	a := auditActorJSON{Type: "user", Label: e.ActorLabel}
	switch {
	case e.ActorTokenID != nil:
		a.Type, a.ID = "token", *e.ActorTokenID
	case e.ActorUserID != nil:
		a.ID = *e.ActorUserID
	}
	return auditEntryJSON{ID: e.ID, At: e.At.UTC(), Actor: a, Action: e.Action, Target: e.Target, Detail: e.Detail}
}

type auditListJSON struct {
	Entries []auditEntryJSON `json:"entries"`
	// NextBefore is the before parameter of the next (older) page.
	NextBefore *uint `json:"next_before"`
}

// apiAudit lists the audit log as JSON, newest first.
func (s *Server) apiAudit(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	q, err := parseAuditQuery(c)
	if err != nil {
		return err
	}
	page, err := s.svc.Audit().List(c.Request().Context(), survey.AuditFilter{Limit: q.limit, Before: q.before, Action: q.action})
	if err != nil {
		return err
	}
	out := auditListJSON{Entries: make([]auditEntryJSON, 0, len(page.Entries))}
	for _, e := range page.Entries {
		out.Entries = append(out.Entries, auditJSON(e))
	}
	if page.Next != 0 {
		n := page.Next
		out.NextBefore = &n
	}
	return c.JSON(http.StatusOK, out)
}

type loggingView struct {
	MinGroupSize int
}

// loggingPage tells employees, in plain words, what Pulse records about
// admins and leaders, what it never records about them, and what admins see.
func (s *Server) loggingPage(c echo.Context) error {
	v := loggingView{MinGroupSize: survey.DefaultMinGroupSize}
	if st, err := s.svc.Org.Settings(c.Request().Context()); err == nil {
		v.MinGroupSize = st.MinGroupSize
	} else if !errors.Is(err, survey.ErrNotFound) {
		return err
	}
	return c.Render(http.StatusOK, "logging.html", s.page(c, "What Pulse logs", v))
}
