package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pulse-survey/pulse/api"
	"github.com/pulse-survey/pulse/survey"
)

// upload posts a roster file through the form, with the CSRF token of the
// last page the client saw.
func (c *client) upload(name, content string) *response {
	c.h.t.Helper()
	if c.csrf == "" {
		c.get("/admin/roster")
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("_csrf", c.csrf)
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		c.h.t.Fatal(err)
	}
	fw.Write([]byte(content))
	mw.Close()
	req := c.newRequest(http.MethodPost, "/admin/roster/preview", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req)
}

// postCSV sends a roster to the JSON API with the session's CSRF token.
func (c *client) postCSV(path, content, contentType string) *response {
	c.h.t.Helper()
	req := c.newRequest(http.MethodPost, path, strings.NewReader(content))
	req.Header.Set("Content-Type", contentType)
	if ck := c.cookie("pulse_csrf"); ck != nil {
		req.Header.Set("X-CSRF-Token", ck.Value)
	}
	return c.do(req)
}

var (
	applyKeyRE  = regexp.MustCompile(`name="key" value="([^"]*)"`)
	applyPlanRE = regexp.MustCompile(`name="plan" value="([^"]*)"`)
)

// applyForm is the hidden fields of a preview's apply form.
func applyForm(t *testing.T, r *response) url.Values {
	t.Helper()
	k, p := applyKeyRE.FindStringSubmatch(r.Body), applyPlanRE.FindStringSubmatch(r.Body)
	if k == nil || p == nil {
		t.Fatalf("no apply form on the page:\n%s", r.Body)
	}
	return url.Values{"key": {html.UnescapeString(k[1])}, "plan": {html.UnescapeString(p[1])}}
}

func (h *harness) peopleCount(active bool) int64 {
	h.t.Helper()
	var n int64
	if err := h.db.Model(&survey.Person{}).Where("active = ?", active).Count(&n).Error; err != nil {
		h.t.Fatal(err)
	}
	return n
}

const goodRoster = "email;name;team;leader\r\n" +
	"ada@example.com;Ada Lovelace;Engineering/Platform;yes\r\n" +
	"grace@example.com;Grace Hopper;Engineering/Platform;\r\n" +
	"linus@example.com;\"Torvalds; Linus\";Engineering/Kernel;\r\n"

func TestRosterRoutesAdminOnly(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o := buildOrg(h)
	h.leader("lead@example.com", o.root)
	c := h.client()
	c.login("lead@example.com")
	c.get("/dashboard")

	wantStatus(t, c.get("/admin/roster"), http.StatusForbidden)
	wantStatus(t, c.upload("roster.csv", goodRoster), http.StatusForbidden)
	wantStatus(t, c.submit("/dashboard", "/admin/roster/apply", url.Values{"key": {"x"}, "plan": {"y"}}), http.StatusForbidden)
	for _, p := range []string{"/api/v1/admin/roster/preview", "/api/v1/admin/roster/apply"} {
		r := c.postCSV(p, goodRoster, "text/csv")
		wantStatus(t, r, http.StatusForbidden)
		if e := decodeAPIError(t, r); e.Error.Code != "forbidden" {
			t.Errorf("%s: code %q", p, e.Error.Code)
		}
	}
	if n := h.peopleCount(true); n != 0 {
		t.Fatalf("a leader imported %d people", n)
	}

	anon := h.client()
	wantRedirect(t, anon.get("/admin/roster"), "/login?next=%2Fadmin%2Froster")
	anon.get("/login")
	wantStatus(t, anon.postCSV("/api/v1/admin/roster/apply", goodRoster, "text/csv"), http.StatusUnauthorized)
}

func TestRosterWebImport(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o := buildOrg(h)
	h.admin("admin@example.com")
	c := h.client()
	c.login("admin@example.com")

	r := c.get("/admin")
	wantContains(t, r.Body, `href="/admin/roster"`)
	r = c.get("/admin/roster")
	wantStatus(t, r, http.StatusOK)
	wantContains(t, r.Body, layoutMarker, `enctype="multipart/form-data"`, `<label for="roster-file">`, `id="roster-file" name="file" type="file" accept=".csv,text/csv"`,
		"manager_email", "Engineering/Platform", "does not create leader accounts", "deactivated, never deleted")

	// Three mistakes: all of them are reported with their lines, nothing changes.
	bad := "email,name,team\nada@example.com,Ada,Engineering/Platform\nnot-an-email,Bob,Sales\nADA@example.com,Ada again,Sales\ncem@example.com,Cem,\n"
	r = c.upload("roster.csv", bad)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantContains(t, r.Body, "The file has 3 problems", "Nothing was changed",
		`<th scope="row" class="num">3</th><td>&#34;not-an-email&#34; is not a valid email address</td>`,
		`<th scope="row" class="num">4</th><td>duplicate email ada@example.com (first on line 2)</td>`,
		`<th scope="row" class="num">5</th><td>the team is empty`)
	wantNotContains(t, r.Body, "Apply these changes")
	if n := h.peopleCount(true); n != 0 {
		t.Fatalf("%d people after a file with errors", n)
	}

	// The fixed file: a preview, then the apply.
	r = c.upload("roster.csv", goodRoster)
	wantStatus(t, r, http.StatusOK)
	wantContains(t, r.Body, "This is a preview", "New people (3)", "Torvalds; Linus", "New teams (1)", "Engineering/Kernel",
		"Leaders listed (1)", "Apply these changes")
	form := applyForm(t, r)
	if n := h.peopleCount(true); n != 0 {
		t.Fatalf("the preview wrote %d people", n)
	}
	r = c.submit("/admin/roster", "/admin/roster/apply", form)
	wantStatus(t, r, http.StatusOK)
	wantContains(t, r.Body, "was imported: 4 changes to people and teams", "What was changed", "New people (3)")
	wantNotContains(t, r.Body, "Apply these changes")
	if n := h.peopleCount(true); n != 3 {
		t.Fatalf("%d active people after the apply, want 3", n)
	}
	tr, err := h.svc.Org.Tree(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tr.ByID[o.platform].People != 2 {
		t.Errorf("Engineering/Platform has %d people, want 2", tr.ByID[o.platform].People)
	}
	// The stash is spent: the same apply again is refused, not repeated.
	wantStatus(t, c.submit("/admin/roster", "/admin/roster/apply", form), http.StatusGone)

	// Re-importing the same file changes nothing.
	r = c.upload("roster.csv", goodRoster)
	wantStatus(t, r, http.StatusOK)
	wantContains(t, r.Body, "Nothing to change")
	wantNotContains(t, r.Body, "Apply these changes")

	// Missing key or plan is a bad request; an unknown key an expired preview.
	wantStatus(t, c.submit("/admin/roster", "/admin/roster/apply", url.Values{"key": {"abc"}}), http.StatusBadRequest)
	r = c.submit("/admin/roster", "/admin/roster/apply", url.Values{"key": {"abc"}, "plan": {"def"}})
	wantStatus(t, r, http.StatusGone)
	wantContains(t, r.Body, "This preview has expired")

	// No file at all.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("_csrf", c.csrf)
	mw.Close()
	req := c.newRequest(http.MethodPost, "/admin/roster/preview", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	r = c.do(req)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantContains(t, r.Body, "Choose a CSV file to upload.")
}

// TestRosterWebStalePreview changes the organisation between preview and
// apply: the apply refuses, shows the new plan, and that one applies.
func TestRosterWebStalePreview(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o := buildOrg(h)
	h.admin("admin@example.com")
	c := h.client()
	c.login("admin@example.com")

	r := c.upload("roster.csv", goodRoster)
	wantStatus(t, r, http.StatusOK)
	form := applyForm(t, r)
	if _, err := h.svc.Org.CreatePerson(h.ctx, survey.PersonInput{Email: "new@example.com", Name: "Hired meanwhile", TeamID: o.sales, Active: true}); err != nil {
		t.Fatal(err)
	}
	r = c.submit("/admin/roster", "/admin/roster/apply", form)
	wantStatus(t, r, http.StatusConflict)
	wantContains(t, r.Body, "The organisation changed since your preview", "Deactivated: missing from the file (1)", "new@example.com")
	if n := h.peopleCount(true); n != 1 {
		t.Fatalf("%d active people after a refused apply, want 1", n)
	}
	r = c.submit("/admin/roster", "/admin/roster/apply", applyForm(t, r))
	wantStatus(t, r, http.StatusOK)
	if n := h.peopleCount(true); n != 3 {
		t.Fatalf("%d active people, want 3", n)
	}
}

func TestRosterUploadTooLarge(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.initOrg("Acme")
	h.admin("admin@example.com")
	c := h.client()
	c.login("admin@example.com")
	// Over 1 MB (the limit of every other route) is fine for a roster...
	var b strings.Builder
	b.WriteString("email,name,team\n")
	for i := 0; b.Len() < 2<<20; i++ {
		fmt.Fprintf(&b, "person%d@example.com,Person %d,Ops\n", i, i)
	}
	wantStatus(t, c.upload("medium.csv", b.String()), http.StatusOK)
	wantStatus(t, c.postCSV("/api/v1/admin/roster/preview", b.String(), "text/csv"), http.StatusOK)
	// ...but not over 20 MB, and other routes keep 1 MB.
	big := "email,name,team\n" + strings.Repeat("someone@example.com,Some One,Ops\n", (20<<20)/32+10)
	wantStatus(t, c.upload("big.csv", big), http.StatusRequestEntityTooLarge)
	wantStatus(t, c.postCSV("/api/v1/admin/roster/preview", big, "text/csv"), http.StatusRequestEntityTooLarge)
	wantStatus(t, c.postCSV("/api/v1/admin/tokens", b.String(), "application/json"), http.StatusRequestEntityTooLarge)
}

// rosterJSON is the roster API's answer.
type rosterJSON struct {
	Error      *struct{ Code, Message string } `json:"error"`
	Valid      bool                            `json:"valid"`
	Applied    bool                            `json:"applied"`
	Rows       int                             `json:"rows"`
	ErrorCount int                             `json:"error_count"`
	Errors     []survey.RosterLineError        `json:"errors"`
	Plan       *survey.RosterPlan              `json:"plan"`
}

func decodeRoster(t *testing.T, r *response, status int) rosterJSON {
	t.Helper()
	wantStatus(t, r, status)
	var v rosterJSON
	if err := json.Unmarshal([]byte(r.Body), &v); err != nil {
		t.Fatalf("body %q: %v", r.Body, err)
	}
	return v
}

func TestRosterAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	buildOrg(h)
	h.admin("admin@example.com")
	c := h.client()
	c.login("admin@example.com")
	const preview, apply = "/api/v1/admin/roster/preview", "/api/v1/admin/roster/apply"

	bad := "email,name,team,dept\nada@example.com,Ada,Ops,x\nbad,Bob,Ops,x\n"
	v := decodeRoster(t, c.postCSV(preview, bad, "text/csv; charset=utf-8"), http.StatusOK)
	if v.Valid || v.ErrorCount != 2 || v.Plan != nil || v.Errors[0].Line != 1 || v.Errors[1].Line != 3 ||
		!strings.Contains(v.Errors[0].Message, `unknown column "dept"`) {
		t.Fatalf("preview of a bad file: %+v", v)
	}
	v = decodeRoster(t, c.postCSV(apply, bad, "text/csv"), http.StatusUnprocessableEntity)
	if v.Error == nil || v.Error.Code != "invalid_roster" || v.ErrorCount != 2 || len(v.Errors) != 2 || v.Applied {
		t.Fatalf("apply of a bad file: %+v", v)
	}

	v = decodeRoster(t, c.postCSV(preview, goodRoster, "text/csv"), http.StatusOK)
	if !v.Valid || v.Rows != 3 || v.Plan == nil || len(v.Plan.New) != 3 || len(v.Plan.NewTeams) != 1 || v.Plan.Digest == "" ||
		v.Errors == nil || v.Applied {
		t.Fatalf("preview: %+v", v)
	}
	digest := v.Plan.Digest
	if n := h.peopleCount(true); n != 0 {
		t.Fatalf("the preview wrote %d people", n)
	}
	// A stale digest is refused.
	r := c.postCSV(apply+"?plan=0000", goodRoster, "text/csv")
	wantStatus(t, r, http.StatusConflict)
	if e := decodeAPIError(t, r); e.Error.Code != "conflict" || !strings.Contains(e.Error.Message, "changed since the preview") {
		t.Fatalf("stale apply: %+v", e)
	}
	v = decodeRoster(t, c.postCSV(apply+"?plan="+digest, goodRoster, "text/csv"), http.StatusOK)
	if !v.Applied || v.Plan.Changes() != 4 {
		t.Fatalf("apply: %+v", v)
	}
	if n := h.peopleCount(true); n != 3 {
		t.Fatalf("%d active people, want 3", n)
	}
	v = decodeRoster(t, c.postCSV(apply, goodRoster, "text/csv"), http.StatusOK)
	if !v.Applied || v.Plan.Changes() != 0 || v.Plan.Unchanged != 3 {
		t.Fatalf("re-apply: %+v", v.Plan)
	}

	r = c.postCSV(preview, goodRoster, "application/json")
	wantStatus(t, r, http.StatusUnsupportedMediaType)
	decodeAPIError(t, r)
	v = decodeRoster(t, c.postCSV(preview, "", "text/csv"), http.StatusOK)
	if v.Valid || v.ErrorCount != 1 || v.Errors[0].Line != 1 {
		t.Fatalf("empty body: %+v", v)
	}
}

// stashFiles lists the files of a roster stash directory with their contents.
func stashFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(b)
	}
	return out
}

// TestRosterStashOnDisk: between preview and apply the file waits as one
// copy in the stash directory; the apply reads it from there and removes
// it, and previews with nothing to apply keep nothing.
func TestRosterStashOnDisk(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "tmp")
	// The apply of this file answers within its request, however slow the machine.
	h := newHarness(t, func(d *api.Deps) { d.TempDir, d.RosterApplyWait = dir, time.Hour })
	buildOrg(h)
	h.admin("admin@example.com")
	c := h.client()
	c.login("admin@example.com")

	wantStatus(t, c.upload("bad.csv", "email,name,team\nbad,Bob,Ops\n"), http.StatusUnprocessableEntity)
	if f := stashFiles(t, dir); len(f) != 0 {
		t.Fatalf("a file with problems was kept: %v", f)
	}
	// Over 1 MB, so the form's file part is not held in memory either.
	var b strings.Builder
	b.WriteString(goodRoster)
	for i := 0; b.Len() < 3<<19; i++ {
		fmt.Fprintf(&b, "person%d@example.com;Person %d;Operations;\r\n", i, i)
	}
	r := c.upload("roster.csv", b.String())
	wantStatus(t, r, http.StatusOK)
	files := stashFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("%d files in the stash, want 1", len(files))
	}
	for name, content := range files {
		if !strings.HasPrefix(name, "roster-") || content != b.String() {
			t.Fatalf("stash file %s holds %d bytes, want the %d uploaded", name, len(content), b.Len())
		}
	}
	// The same file again replaces the entry: still one copy.
	form := applyForm(t, c.upload("roster.csv", b.String()))
	if f := stashFiles(t, dir); len(f) != 1 {
		t.Fatalf("%d files in the stash after the second preview, want 1", len(f))
	}
	wantStatus(t, c.submit("/admin/roster", "/admin/roster/apply", form), http.StatusOK)
	if f := stashFiles(t, dir); len(f) != 0 {
		t.Fatalf("the applied file was kept: %d files", len(f))
	}
	if n := h.peopleCount(true); n < 30_000 {
		t.Fatalf("%d active people after the apply", n)
	}
	wantStatus(t, c.upload("roster.csv", b.String()), http.StatusOK) // nothing to change
	if f := stashFiles(t, dir); len(f) != 0 {
		t.Fatalf("a preview with nothing to change kept %d files", len(f))
	}
}

// TestRosterAPIBodyOverLimitStreamed: a body without a length that grows
// past 20 MB while it is parsed is a 413, not a problem of the file.
func TestRosterAPIBodyOverLimitStreamed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.initOrg("Acme")
	h.admin("admin@example.com")
	c := h.client()
	c.login("admin@example.com")
	c.get("/admin/roster")
	body := io.MultiReader(strings.NewReader("email,name,team\n"),
		strings.NewReader(strings.Repeat("someone@example.com,Some One,Ops\n", (20<<20)/32+10)))
	req := c.newRequest(http.MethodPost, "/api/v1/admin/roster/preview", body)
	req.ContentLength = -1
	req.Header.Set("Content-Type", "text/csv")
	req.Header.Set("X-CSRF-Token", c.cookie("pulse_csrf").Value)
	wantStatus(t, c.do(req), http.StatusRequestEntityTooLarge)
}

// TestRosterWebApplyInBackground: an apply that outlasts the request's wait
// goes on in the background; the admin who started it follows its progress
// on a page that refreshes itself, then sees what was changed.
func TestRosterWebApplyInBackground(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(d *api.Deps) { d.RosterApplyWait = time.Nanosecond })
	o := buildOrg(h)
	h.admin("admin@example.com")
	h.admin("other@example.com")
	c := h.client()
	c.login("admin@example.com")
	// Signed in before: on SQLite a sign-in waits for the apply's transaction.
	other := h.client()
	other.login("other@example.com")

	var b strings.Builder
	b.WriteString("email,name,team\n")
	for i := range 20_000 {
		fmt.Fprintf(&b, "p%05d@example.com,Person %d,Operations/Team %d\n", i, i, i%50)
	}
	// follow polls a job page until the apply has ended.
	follow := func(r *response) *response {
		t.Helper()
		wantStatus(t, r, http.StatusSeeOther)
		job := r.Header.Get("Location")
		if !strings.HasPrefix(job, "/admin/roster/jobs/") {
			t.Fatalf("redirected to %q", job)
		}
		wantStatus(t, other.get(job), http.StatusNotFound) // another admin's import
		for views, deadline := 0, time.Now().Add(2*time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			r = c.get(job)
			if !strings.Contains(r.Body, "Applying the roster") {
				t.Logf("%d progress pages before the end", views)
				return r
			}
			views++
			wantStatus(t, r, http.StatusOK)
			wantContains(t, r.Body, `<meta http-equiv="refresh" content="3">`, "until then nothing has changed")
		}
		t.Fatal("the apply did not end")
		return nil
	}

	// A stale preview: the background apply refuses and shows the new plan.
	form := applyForm(t, c.upload("roster.csv", b.String()))
	if _, err := h.svc.Org.CreatePerson(h.ctx, survey.PersonInput{Email: "new@example.com", Name: "Hired meanwhile", TeamID: o.sales, Active: true}); err != nil {
		t.Fatal(err)
	}
	r := follow(c.submit("/admin/roster", "/admin/roster/apply", form))
	wantStatus(t, r, http.StatusConflict)
	wantContains(t, r.Body, "The organisation changed since your preview", "new@example.com")
	if n := h.peopleCount(true); n != 1 {
		t.Fatalf("%d active people after a refused apply, want 1", n)
	}

	r = follow(c.submit("/admin/roster", "/admin/roster/apply", applyForm(t, r)))
	wantStatus(t, r, http.StatusOK)
	wantContains(t, r.Body, "was imported", "New people (20000)")
	wantNotContains(t, r.Body, "http-equiv")
	if n := h.peopleCount(true); n != 20_000 {
		t.Fatalf("%d active people after the apply, want 20000", n)
	}
	// The import is in the audit log once, though its request answered first.
	applies := 0
	for _, e := range h.auditLog() {
		if strings.Contains(e.Detail, "/admin/roster/apply") {
			applies++
		}
	}
	if applies != 1 {
		t.Fatalf("%d audit entries for roster applies, want 1", applies)
	}
}
