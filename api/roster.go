package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pulse-survey/pulse/survey"
)

const (
	// maxRosterUpload is the largest roster file the form and the API
	// read: the body limit of the roster routes in routes.go (about
	// 500,000 rows). Larger rosters are imported with "pulse roster import FILE".
	maxRosterUpload = 20 << 20
	// rosterStashTTL is how long a previewed file waits for its apply.
	rosterStashTTL = 30 * time.Minute
	// rosterStashBytes bounds the disk space held by previews.
	rosterStashBytes = 256 << 20
	// rosterShown is how many entries of each plan section a page lists.
	rosterShown = 100
	// rosterStashPattern names the files of the stash.
	rosterStashPattern = "roster-*.csv"
	// rosterApplyWait is how long an apply request waits for the apply
	// before it answers with a progress page (the request timeout is 30 s).
	rosterApplyWait = 20 * time.Second
	// rosterJobTimeout bounds an apply that continues in the background.
	rosterJobTimeout = 10 * time.Minute
)

// rosterImport serves the roster import pages and API. Between preview and
// apply the uploaded file waits in a short-lived stash, keyed by its
// SHA-256 and the uploading account: one copy on disk in the stash
// directory, none in memory. The apply reads the file again and computes
// the plan from it. With several replicas an apply that reaches another
// one finds no stash and asks for the file again.
type rosterImport struct {
	s     *Server
	stash *rosterStash
	jobs  *rosterJobs
	wait  time.Duration // rosterApplyWait unless Deps says otherwise
}

func newRosterImport(s *Server) *rosterImport {
	st := &rosterStash{now: s.now, dir: s.deps.TempDir, entries: map[string]*stashEntry{}}
	if st.dir == "" {
		st.dir = os.TempDir()
	}
	st.sweepOrphans(s.log)
	wait := s.deps.RosterApplyWait
	if wait <= 0 {
		wait = rosterApplyWait
	}
	return &rosterImport{s: s, stash: st, jobs: &rosterJobs{now: s.now, jobs: map[string]*rosterJob{}}, wait: wait}
}

// rosterJob is one apply. It runs apart from its request: when it takes
// longer than the request waits, the admin follows its progress on
// /admin/roster/jobs/ID, and it goes on, in one transaction, until it
// ends or rosterJobTimeout passes.
type rosterJob struct {
	id     string
	userID uint
	key    string // the stashed file
	name   string
	r      *survey.Roster
	digest string

	done, total atomic.Int64
	finished    chan struct{}

	mu sync.Mutex
	// Set when the apply ends, before finished is closed.
	plan  *survey.RosterPlan
	err   error
	ended time.Time
	// audit is the entry to record when the apply succeeds, once its
	// request has answered.
	audit *survey.AuditEntry
}

type rosterJobs struct {
	mu   sync.Mutex
	now  func() time.Time
	jobs map[string]*rosterJob
}

// add registers a job, forgetting jobs that ended over rosterStashTTL ago.
func (js *rosterJobs) add(j *rosterJob) {
	js.mu.Lock()
	defer js.mu.Unlock()
	for id, old := range js.jobs {
		select {
		case <-old.finished:
			if js.now().Sub(old.ended) > rosterStashTTL {
				delete(js.jobs, id)
			}
		default:
		}
	}
	js.jobs[j.id] = j
}

// get is the user's job with the id.
func (js *rosterJobs) get(id string, userID uint) (*rosterJob, bool) {
	js.mu.Lock()
	defer js.mu.Unlock()
	j, ok := js.jobs[id]
	if !ok || j.userID != userID {
		return nil, false
	}
	return j, true
}

type rosterStash struct {
	mu      sync.Mutex
	now     func() time.Time
	dir     string
	entries map[string]*stashEntry
	size    int64
}

type stashEntry struct {
	name    string // the uploaded file's name
	path    string // its copy in the stash directory
	size    int64
	expires time.Time
}

func stashKey(userID uint, hash string) string {
	return strconv.FormatUint(uint64(userID), 10) + ":" + hash
}

// sweepOrphans removes stash files older than the TTL: a stopped server
// leaves its stash behind, and no server can apply those any more.
func (st *rosterStash) sweepOrphans(log *slog.Logger) {
	files, _ := filepath.Glob(filepath.Join(st.dir, rosterStashPattern))
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil && st.now().Sub(fi.ModTime()) > rosterStashTTL {
			if err := os.Remove(f); err != nil {
				log.Warn("roster stash: cannot remove an old upload", "file", f, "err", err)
			}
		}
	}
}

// upload is a file being copied into the stash while it is read.
type upload struct {
	f    *os.File
	hash hash.Hash
	size int64
}

// create starts a file in the stash directory.
func (st *rosterStash) create() (*upload, error) {
	if err := os.MkdirAll(st.dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(st.dir, rosterStashPattern)
	if err != nil {
		return nil, err
	}
	return &upload{f: f, hash: sha256.New()}, nil
}

func (u *upload) Write(p []byte) (int, error) {
	u.hash.Write(p)
	u.size += int64(len(p))
	return u.f.Write(p)
}

// discard removes the file.
func (u *upload) discard() {
	u.f.Close()
	os.Remove(u.f.Name())
}

// put keeps the uploaded file for the user and returns its hash.
func (st *rosterStash) put(userID uint, name string, u *upload) (string, error) {
	if err := u.f.Close(); err != nil {
		os.Remove(u.f.Name())
		return "", err
	}
	hash := hex.EncodeToString(u.hash.Sum(nil))
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.now()
	st.expire(now)
	k := stashKey(userID, hash)
	st.remove(k)
	for st.size+u.size > rosterStashBytes && len(st.entries) > 0 {
		var oldest string
		for k, e := range st.entries {
			if oldest == "" || e.expires.Before(st.entries[oldest].expires) {
				oldest = k
			}
		}
		st.remove(oldest)
	}
	st.entries[k] = &stashEntry{name: name, path: u.f.Name(), size: u.size, expires: now.Add(rosterStashTTL)}
	st.size += u.size
	// The file must not outlive its TTL by much, even if no one comes back.
	time.AfterFunc(rosterStashTTL+time.Minute, func() {
		st.mu.Lock()
		defer st.mu.Unlock()
		st.expire(st.now())
	})
	return hash, nil
}

// open opens the user's stashed file.
func (st *rosterStash) open(userID uint, hash string) (*stashEntry, *os.File, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.expire(st.now())
	e, ok := st.entries[stashKey(userID, hash)]
	if !ok {
		return nil, nil, false
	}
	f, err := os.Open(e.path)
	if err != nil {
		st.remove(stashKey(userID, hash))
		return nil, nil, false
	}
	return e, f, true
}

// extend gives a stashed file a new TTL.
func (st *rosterStash) extend(userID uint, hash string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if e, ok := st.entries[stashKey(userID, hash)]; ok {
		e.expires = st.now().Add(rosterStashTTL)
	}
}

func (st *rosterStash) drop(userID uint, hash string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.remove(stashKey(userID, hash))
}

func (st *rosterStash) expire(now time.Time) {
	for k, e := range st.entries {
		if now.After(e.expires) {
			st.remove(k)
		}
	}
}

// remove forgets an entry and deletes its file; a file still open for an
// apply stays readable until it is closed.
func (st *rosterStash) remove(k string) {
	if e, ok := st.entries[k]; ok {
		st.size -= e.size
		delete(st.entries, k)
		os.Remove(e.path)
	}
}

// capped is the first entries of a list and how many more there are.
type capped[T any] struct {
	Items []T
	Total int
	More  int
}

// capList shows the first entries of a list of total entries (s may
// hold only the first ones).
func capList[T any](s []T, total int) capped[T] {
	if len(s) > rosterShown {
		s = s[:rosterShown]
	}
	return capped[T]{Items: s, Total: total, More: total - len(s)}
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
	t := p.Totals
	return &rosterPlanView{Plan: p, New: capList(p.New, t.New), Renamed: capList(p.Renamed, t.Renamed), Moved: capList(p.Moved, t.Moved),
		Reactivated: capList(p.Reactivated, t.Reactivated), Deactivated: capList(p.Deactivated, t.Deactivated),
		NewTeams: capList(p.NewTeams, t.NewTeams), Unarchived: capList(p.Unarchived, t.Unarchived), Leaders: capList(p.Leaders, t.Leaders)}
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
	Job        *jobView // an apply still running
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

// preview reads the uploaded file and shows its problems or its plan. The
// file is read once: parsed, hashed and copied into the stash together.
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
	u, err := ri.stash.create()
	if err != nil {
		return fmt.Errorf("roster stash: %w", err)
	}
	kept := false
	defer func() {
		if !kept {
			u.discard()
		}
	}()
	r, err := survey.ReadRoster(io.TeeReader(f, u))
	if err == nil {
		_, err = io.Copy(u, f) // what the parser left unread after a problem
	}
	if err != nil {
		return err
	}
	return ri.showPlan(c, fh.Filename, r, http.StatusOK, "", func() (string, error) {
		kept = true
		return ri.stash.put(p.User.ID, fh.Filename, u)
	})
}

// showPlan renders the problems or the plan of r; when the plan changes
// anything, keep stashes the file and returns its key.
func (ri *rosterImport) showPlan(c echo.Context, name string, r *survey.Roster, status int, notice string, keep func() (string, error)) error {
	v := rosterView{FileName: name, Notice: notice}
	if !r.Valid() {
		v.Errors, v.ErrorCount, v.MoreErrors = r.Errors, r.ErrorCount, r.ErrorCount-len(r.Errors)
		return ri.render(c, http.StatusUnprocessableEntity, v)
	}
	plan, err := ri.s.svc.Org.PreviewRosterLimit(c.Request().Context(), r, rosterShown)
	if err != nil {
		return err
	}
	v.Plan = newPlanView(plan)
	if plan.Changes() > 0 {
		if v.Key, err = keep(); err != nil {
			return fmt.Errorf("roster stash: %w", err)
		}
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
	e, f, ok := ri.stash.open(p.User.ID, key)
	if !ok {
		return ri.render(c, http.StatusGone, rosterView{Notice: fmt.Sprintf(
			"This preview has expired (previews are kept for %d minutes). Upload the file again.", int(rosterStashTTL/time.Minute))})
	}
	r, err := survey.ReadRoster(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("roster stash: %w", err)
	}
	j := &rosterJob{id: newJobID(), userID: p.User.ID, key: key, name: e.name, r: r, digest: digest, finished: make(chan struct{})}
	ri.jobs.add(j)
	// Not the request's context: its 30 s deadline must not end the apply.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request().Context()), rosterJobTimeout)
	go func() {
		defer cancel()
		ri.run(ctx, j)
	}()
	timer := time.NewTimer(ri.wait)
	defer timer.Stop()
	select {
	case <-j.finished:
		return ri.showJob(c, j)
	case <-timer.C:
	}
	// The apply goes on: it records the audit entry itself when it
	// succeeds (on SQLite, writing it now would wait for the apply).
	ae := survey.AuditEntry{Action: routeAction(http.MethodPost, c.Path()), Target: routeTarget(c), Detail: http.MethodPost + " " + c.Path()}
	ae.ActorOf(p)
	skipAudit(c)
	j.mu.Lock()
	ended := j.ended != (time.Time{})
	if !ended {
		j.audit = &ae
	}
	j.mu.Unlock()
	if ended && j.err == nil {
		ri.record(ae)
	}
	return c.Redirect(http.StatusSeeOther, "/admin/roster/jobs/"+j.id)
}

// record writes an audit entry for an apply that ended after its request.
func (ri *rosterImport) record(e survey.AuditEntry) {
	if err := ri.s.svc.Audit().Record(context.Background(), e); err != nil {
		ri.s.log.Error("audit log write failed", "action", e.Action, "target", e.Target, "err", err)
	}
}

func newJobID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// run applies the job's roster and records how it ended.
func (ri *rosterImport) run(ctx context.Context, j *rosterJob) {
	plan, err := ri.s.svc.Org.ApplyRoster(ctx, j.r, survey.RosterApplyOptions{ExpectDigest: j.digest, Limit: rosterShown,
		Progress: func(done, total int) {
			j.total.Store(int64(total))
			j.done.Store(int64(done))
		}})
	if err == nil {
		ri.stash.drop(j.userID, j.key)
		ri.s.log.Info("roster imported", "user_id", j.userID, "rows", plan.Rows, "new", plan.Totals.New,
			"updated", plan.Updated, "deactivated", plan.Totals.Deactivated, "new_teams", plan.Totals.NewTeams)
		j.r = nil // the plan is all the page needs now
	}
	j.mu.Lock()
	j.plan, j.err, j.ended = plan, err, ri.s.now()
	audit := j.audit
	j.mu.Unlock()
	if audit != nil && err == nil {
		ri.record(*audit)
	}
	close(j.finished)
}

// jobView is an apply still running.
type jobView struct {
	Done, Total, Percent int
}

// job shows an apply's progress, or how it ended.
func (ri *rosterImport) job(c echo.Context) error {
	p, err := ri.s.authorize(c, survey.RoleAdmin)
	if err != nil {
		return err
	}
	j, ok := ri.jobs.get(c.Param("id"), p.User.ID)
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, "There is no such import.")
	}
	select {
	case <-j.finished:
		return ri.showJob(c, j)
	default:
	}
	v := jobView{Done: int(j.done.Load()), Total: int(j.total.Load())}
	if v.Total > 0 {
		v.Percent = v.Done * 100 / v.Total
	}
	return ri.render(c, http.StatusOK, rosterView{FileName: j.name, Job: &v})
}

// showJob shows how an apply ended.
func (ri *rosterImport) showJob(c echo.Context, j *rosterJob) error {
	if errors.Is(j.err, survey.ErrRosterPlanChanged) {
		return ri.showPlan(c, j.name, j.r, http.StatusConflict,
			"The organisation changed since your preview, so nothing was applied. Review the changes below and apply them again.",
			func() (string, error) {
				ri.stash.extend(j.userID, j.key)
				return j.key, nil
			})
	}
	if j.err != nil {
		return j.err
	}
	return ri.render(c, http.StatusOK, rosterView{FileName: j.name, Plan: newPlanView(j.plan), Applied: true})
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
	rep := rosterReport{Valid: r.Valid(), Rows: r.Len(), ErrorCount: r.ErrorCount, Errors: r.Errors}
	if rep.Errors == nil {
		rep.Errors = []survey.RosterLineError{}
	}
	return rep
}

// readRosterBody parses a text/csv request body as it arrives.
func readRosterBody(c echo.Context) (*survey.Roster, error) {
	mt, _, err := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if err != nil || (mt != "text/csv" && mt != "text/plain" && mt != "application/csv") {
		return nil, echo.NewHTTPError(http.StatusUnsupportedMediaType, "Send the roster file as the request body with Content-Type: text/csv.")
	}
	r, err := survey.ReadRoster(&cappedReader{r: c.Request().Body, left: maxRosterUpload})
	if err != nil {
		var he *echo.HTTPError
		if errors.As(err, &he) {
			return nil, he
		}
		return nil, echo.NewHTTPError(http.StatusBadRequest, "The request body could not be read.")
	}
	return r, nil
}

// cappedReader reads at most left bytes; past that it fails with 413.
type cappedReader struct {
	r    io.Reader
	left int64
}

func (cr *cappedReader) Read(p []byte) (int, error) {
	if int64(len(p)) > cr.left+1 {
		p = p[:cr.left+1]
	}
	n, err := cr.r.Read(p)
	if cr.left -= int64(n); cr.left < 0 {
		return 0, echo.ErrStatusRequestEntityTooLarge
	}
	return n, err
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
	ri.s.logger(c).Info("roster imported", "user_id", p.User.ID, "rows", rep.Plan.Rows, "new", rep.Plan.Totals.New,
		"updated", rep.Plan.Updated, "deactivated", rep.Plan.Totals.Deactivated, "new_teams", rep.Plan.Totals.NewTeams)
	return c.JSON(http.StatusOK, rep)
}
