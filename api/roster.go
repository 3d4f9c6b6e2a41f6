package api

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pulse-survey/pulse/survey"
)

const (
	// maxRosterUpload is the largest roster file the form and the API
	// read: the body limit of the roster routes in routes.go (about
	// 250,000 rows). Larger rosters are imported with "pulse roster import FILE".
	maxRosterUpload = 20 << 20
	// rosterStashTTL is how long a previewed file waits for its apply.
	rosterStashTTL = 30 * time.Minute
	// rosterStashBytes bounds the memory held by previews.
	rosterStashBytes = 64 << 20
	// rosterShown is how many entries of each plan section a page lists.
	rosterShown = 100
)

// rosterImport serves the roster import pages and API. Between preview and
// apply the uploaded file waits in a short-lived in-memory stash, keyed by
// its SHA-256 and the uploading account; the apply computes the plan again
// from those bytes. With several replicas an apply that reaches another
// one finds no stash and asks for the file again.
type rosterImport struct {
	s     *Server
	stash *rosterStash
}

func newRosterImport(s *Server) *rosterImport {
	return &rosterImport{s: s, stash: &rosterStash{now: s.now, entries: map[string]*stashEntry{}}}
}

type rosterStash struct {
	mu      sync.Mutex
	now     func() time.Time
	entries map[string]*stashEntry
	size    int
}

type stashEntry struct {
	name    string
	data    []byte
	expires time.Time
}

func stashKey(userID uint, hash string) string {
	return strconv.FormatUint(uint64(userID), 10) + ":" + hash
}

// put keeps data for the user and returns its hash.
func (st *rosterStash) put(userID uint, name string, data []byte) string {
	sum := sha256.Sum256(data)
	hash := hex.EncodeToString(sum[:])
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.now()
	for k, e := range st.entries {
		if now.After(e.expires) {
			st.remove(k)
		}
	}
	k := stashKey(userID, hash)
	st.remove(k)
	for st.size+len(data) > rosterStashBytes && len(st.entries) > 0 {
		var oldest string
		for k, e := range st.entries {
			if oldest == "" || e.expires.Before(st.entries[oldest].expires) {
				oldest = k
			}
		}
		st.remove(oldest)
	}
	st.entries[k] = &stashEntry{name: name, data: data, expires: now.Add(rosterStashTTL)}
	st.size += len(data)
	return hash
}

func (st *rosterStash) get(userID uint, hash string) (*stashEntry, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	e, ok := st.entries[stashKey(userID, hash)]
	if !ok || st.now().After(e.expires) {
		return nil, false
	}
	return e, true
}

func (st *rosterStash) drop(userID uint, hash string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.remove(stashKey(userID, hash))
}

func (st *rosterStash) remove(k string) {
	if e, ok := st.entries[k]; ok {
		st.size -= len(e.data)
		delete(st.entries, k)
	}
}

// capped is the first entries of a list and how many more there are.
type capped[T any] struct {
	Items []T
	Total int
	More  int
}

func capList[T any](s []T) capped[T] {
	c := capped[T]{Items: s, Total: len(s)}
	if len(s) > rosterShown {
		c.Items, c.More = s[:rosterShown], len(s)-rosterShown
	}
	return c
}

type rosterPlanView struct {
	Plan        *survey.RosterPlan
	New         capped[survey.RosterPerson]
	Renamed     capped[survey.RosterRename]
	Moved       capped[survey.RosterMove]
	Reactivated capped[survey.RosterPerson]
	Deactivated capped[survey.RosterPerson]
	NewTeams    capped[string]
	Unarchived  capped[string]
	Leaders     capped[survey.RosterLeader]
}

func newPlanView(p *survey.RosterPlan) *rosterPlanView {
	return &rosterPlanView{Plan: p, New: capList(p.New), Renamed: capList(p.Renamed), Moved: capList(p.Moved),
		Reactivated: capList(p.Reactivated), Deactivated: capList(p.Deactivated), NewTeams: capList(p.NewTeams),
		Unarchived: capList(p.Unarchived), Leaders: capList(p.Leaders)}
}

type rosterView struct {
	FileName   string
	Problem    string // the upload itself was unusable
	Notice     string // why the page is shown again
	Errors     []survey.RosterLineError
	ErrorCount int
	MoreErrors int
	Plan       *rosterPlanView
	Key        string // the stashed file's hash
	Applied    bool
	MaxUpload  string
}

func (ri *rosterImport) render(c echo.Context, status int, v rosterView) error {
	v.MaxUpload = "20 MB"
	return c.Render(status, "roster.html", ri.s.page(c, "Import people", v))
}

// form shows the upload form with the columns explained.
func (ri *rosterImport) form(c echo.Context) error {
	if _, err := ri.s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	return ri.render(c, http.StatusOK, rosterView{})
}

// preview reads the uploaded file and shows its problems or its plan.
func (ri *rosterImport) preview(c echo.Context) error {
	p, err := ri.s.authorize(c, survey.RoleAdmin)
	if err != nil {
		return err
	}
	fh, err := c.FormFile("file")
	if err != nil {
		return ri.render(c, http.StatusUnprocessableEntity, rosterView{Problem: "Choose a CSV file to upload."})
	}
	if fh.Size > maxRosterUpload {
		return ri.render(c, http.StatusRequestEntityTooLarge, rosterView{FileName: fh.Filename,
			Problem: "The file is larger than 20 MB. Import it with the command line: pulse roster import FILE."})
	}
	f, err := fh.Open()
	if err != nil {
		return err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxRosterUpload+1))
	if err != nil {
		return err
	}
	return ri.showPlan(c, p, fh.Filename, data, http.StatusOK, "")
}

func (ri *rosterImport) showPlan(c echo.Context, p *survey.Principal, name string, data []byte, status int, notice string) error {
	v := rosterView{FileName: name, Notice: notice}
	r := survey.ParseRoster(data)
	if !r.Valid() {
		v.Errors, v.ErrorCount, v.MoreErrors = r.Errors, r.ErrorCount, r.ErrorCount-len(r.Errors)
		return ri.render(c, http.StatusUnprocessableEntity, v)
	}
	plan, err := ri.s.svc.Org.PreviewRoster(c.Request().Context(), r)
	if err != nil {
		return err
	}
	v.Plan = newPlanView(plan)
	if plan.Changes() > 0 {
		v.Key = ri.stash.put(p.User.ID, name, data)
	}
	return ri.render(c, status, v)
}

// apply applies the stashed file, provided the plan is still the one shown.
func (ri *rosterImport) apply(c echo.Context) error {
	p, err := ri.s.authorize(c, survey.RoleAdmin)
	if err != nil {
		return err
	}
	key, digest := c.FormValue("key"), c.FormValue("plan")
	if key == "" || digest == "" {
		return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.")
	}
	e, ok := ri.stash.get(p.User.ID, key)
	if !ok {
		return ri.render(c, http.StatusGone, rosterView{Notice: fmt.Sprintf(
			"This preview has expired (previews are kept for %d minutes). Upload the file again.", int(rosterStashTTL/time.Minute))})
	}
	plan, err := ri.s.svc.Org.ApplyRoster(c.Request().Context(), survey.ParseRoster(e.data), survey.RosterApplyOptions{ExpectDigest: digest})
	if errors.Is(err, survey.ErrRosterPlanChanged) {
		return ri.showPlan(c, p, e.name, e.data, http.StatusConflict,
			"The organisation changed since your preview, so nothing was applied. Review the changes below and apply them again.")
	}
	if err != nil {
		return err
	}
	ri.stash.drop(p.User.ID, key)
	ri.s.logger(c).Info("roster imported", "user_id", p.User.ID, "rows", plan.Rows, "new", len(plan.New),
		"updated", plan.Updated, "deactivated", len(plan.Deactivated), "new_teams", len(plan.NewTeams))
	return ri.render(c, http.StatusOK, rosterView{FileName: e.name, Plan: newPlanView(plan), Applied: true})
}

// rosterReport is the JSON answer of the roster API.
type rosterReport struct {
	Valid      bool                     `json:"valid"`
	Applied    bool                     `json:"applied"`
	Rows       int                      `json:"rows"`
	ErrorCount int                      `json:"error_count"`
	Errors     []survey.RosterLineError `json:"errors"`
	// Plan is null when the file has errors.
	Plan *survey.RosterPlan `json:"plan"`
}

func newRosterReport(r *survey.Roster) rosterReport {
	rep := rosterReport{Valid: r.Valid(), Rows: len(r.Rows), ErrorCount: r.ErrorCount, Errors: r.Errors}
	if rep.Errors == nil {
		rep.Errors = []survey.RosterLineError{}
	}
	return rep
}

// readRosterBody reads a text/csv request body.
func readRosterBody(c echo.Context) (*survey.Roster, error) {
	mt, _, err := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if err != nil || (mt != "text/csv" && mt != "text/plain" && mt != "application/csv") {
		return nil, echo.NewHTTPError(http.StatusUnsupportedMediaType, "Send the roster file as the request body with Content-Type: text/csv.")
	}
	data, err := io.ReadAll(io.LimitReader(c.Request().Body, maxRosterUpload+1))
	if err != nil {
		var he *echo.HTTPError
		if errors.As(err, &he) {
			return nil, he
		}
		return nil, echo.NewHTTPError(http.StatusBadRequest, "The request body could not be read.")
	}
	if len(data) > maxRosterUpload {
		return nil, echo.ErrStatusRequestEntityTooLarge
	}
	return survey.ParseRoster(data), nil
}

// apiPreview answers the plan of a roster, or its problems (valid=false).
func (ri *rosterImport) apiPreview(c echo.Context) error {
	if _, err := ri.s.authorize(c, survey.RoleAdmin); err != nil {
		return err
	}
	r, err := readRosterBody(c)
	if err != nil {
		return err
	}
	rep := newRosterReport(r)
	if r.Valid() {
		if rep.Plan, err = ri.s.svc.Org.PreviewRoster(c.Request().Context(), r); err != nil {
			return err
		}
	}
	return c.JSON(http.StatusOK, rep)
}

// apiApply applies a roster. With ?plan=DIGEST (from a preview) it applies
// only if the plan is still that one (409 otherwise). A file with problems
// is a 422 listing them; nothing is changed.
func (ri *rosterImport) apiApply(c echo.Context) error {
	p, err := ri.s.authorize(c, survey.RoleAdmin)
	if err != nil {
		return err
	}
	r, err := readRosterBody(c)
	if err != nil {
		return err
	}
	rep := newRosterReport(r)
	if !r.Valid() {
		msg := fmt.Sprintf("The roster has %d problems; nothing was changed.", r.ErrorCount)
		if r.ErrorCount == 1 {
			msg = "The roster has a problem; nothing was changed."
		}
		return c.JSON(http.StatusUnprocessableEntity, struct {
			Error apiError `json:"error"`
			rosterReport
		}{apiError{Code: "invalid_roster", Message: msg, Fields: map[string]string{"file": r.Errors[0].String()}}, rep})
	}
	if rep.Plan, err = ri.s.svc.Org.ApplyRoster(c.Request().Context(), r, survey.RosterApplyOptions{ExpectDigest: c.QueryParam("plan")}); err != nil {
		return err
	}
	rep.Applied = true
	ri.s.logger(c).Info("roster imported", "user_id", p.User.ID, "rows", rep.Plan.Rows, "new", len(rep.Plan.New),
		"updated", rep.Plan.Updated, "deactivated", len(rep.Plan.Deactivated), "new_teams", len(rep.Plan.NewTeams))
	return c.JSON(http.StatusOK, rep)
}
