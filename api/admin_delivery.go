package api

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pulse-survey/pulse/survey"
)

// deliveryRow is one email kind of a round with its counts per status.
type deliveryRow struct {
	Kind, Label                                 string
	Queued, Sending, Sent, Failed, Skipped, All int
}

type deliveryView struct {
	Round    survey.Round
	Program  string
	ClosesAt string
	Emailed  bool
	// CanExport: the round is open and Pulse does not email it, so admins
	// hand out the links themselves.
	CanExport bool
	Rows      []deliveryRow
	Failed    []survey.DeliveryFailure
	Location  *time.Location
}

var deliveryKinds = []struct{ kind, label string }{
	{survey.DeliveryInv, "Invitation"},
	{survey.DeliveryR1, "First reminder"},
	{survey.DeliveryR2, "Second reminder"},
}

// adminDelivery shows how a round's emails fared: counts per kind and
// status, and each failure with its reason. It never lists who was
// reminded or who took part.
func (s *Server) adminDelivery(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	id, err := idParam(c, "round")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	rep, err := s.svc.DeliveryReport(ctx, id)
	if err != nil {
		return err
	}
	v := deliveryView{Round: rep.Round, Emailed: rep.Emailed, Failed: rep.Failed, Location: time.UTC}
	v.CanExport = !rep.Emailed && rep.Round.Status == survey.RoundOpen
	if st, err := s.svc.Org.Settings(ctx); err == nil {
		if loc, err := time.LoadLocation(st.TimeZone); err == nil {
			v.Location = loc
		}
	}
	v.ClosesAt = rep.Round.ClosesAt.In(v.Location).Format("Monday, 2 January 2006, 15:04 MST")
	if p, _, err := s.svc.Programs.Program(ctx, rep.Round.ProgramID); err == nil {
		v.Program = p.Name
	}
	for _, k := range deliveryKinds {
		row := deliveryRow{Kind: k.kind, Label: k.label}
		for _, n := range rep.Counts {
			if n.Kind != k.kind {
				continue
			}
			switch n.Status {
			case survey.DeliveryQueued:
				row.Queued += n.N
			case survey.DeliverySending:
				row.Sending += n.N
			case survey.DeliverySent:
				row.Sent += n.N
			case survey.DeliveryFailed:
				row.Failed += n.N
			case survey.DeliverySkipped:
				row.Skipped += n.N
			}
			row.All += n.N
		}
		v.Rows = append(v.Rows, row)
	}
	title := fmt.Sprintf("Email delivery: %s #%d", v.Program, rep.Round.Number)
	return c.Render(http.StatusOK, "delivery.html", s.page(c, title, v))
}

// adminLinksCSV exports an open round's personal survey links (email,
// name, link) for admins to send themselves. Only for rounds Pulse does not
// email: where it does, nobody needs everyone's links, and an admin holding
// them could take someone else's token.
func (s *Server) adminLinksCSV(c echo.Context) error {
	if _, err := s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	id, err := idParam(c, "round")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	emailed, err := s.svc.RoundEmailed(ctx, id)
	if err != nil {
		return err
	}
	if emailed {
		return survey.Conflict("Pulse emails this round's invitations, so its links are not exported.")
	}
	links, err := s.svc.Rounds.Links(ctx, id)
	if err != nil {
		return err
	}
	// Whoever holds these links could take the invitees' tokens: record the export.
	noteAudit(c, survey.AuditLinksExport, fmt.Sprintf("round:%d", id), fmt.Sprintf("%d links", len(links)))
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="pulse-round-%d-links.csv"`, id))
	// Every line is someone's personal secret: keep it out of caches.
	h.Set(echo.HeaderCacheControl, "no-store")
	c.Response().WriteHeader(http.StatusOK)
	w := csv.NewWriter(c.Response())
	w.Write([]string{"email", "name", "link"})
	for _, l := range links {
		w.Write([]string{csvSafe(l.Email), csvSafe(l.Name), s.deps.BaseURL + "/s/" + l.Secret})
	}
	w.Flush()
	return w.Error()
}
