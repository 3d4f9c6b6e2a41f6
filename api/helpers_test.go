package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/pulse-survey/pulse/api"
	"github.com/pulse-survey/pulse/reports"
	"github.com/pulse-survey/pulse/survey"
	"github.com/pulse-survey/pulse/survey/surveytest"
)

const (
	baseURL = "http://pulse.test"
	// password is long enough for survey.MinPasswordLen.
	password = "correct horse battery"
	// defaultRemote is the client address of requests that do not set one.
	defaultRemote = "192.0.2.10:40000"
)

// testClock is a clock the test moves by hand; safe for concurrent use.
type testClock = surveytest.Clock

func newClock() *testClock { return surveytest.NewClock(time.Time{}) }

// syncBuffer is a log sink that handlers may write to concurrently.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Lines parses the JSON log lines written so far.
func (b *syncBuffer) Lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if l == "" {
			continue
		}
		m := map[string]any{}
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// harness is one test's server over a fresh database, with its services,
// clock and captured logs.
type harness struct {
	t     *testing.T
	ctx   context.Context
	db    *gorm.DB
	svc   *survey.Services
	clock *testClock
	deps  api.Deps
	e     *echo.Echo
	log   *syncBuffer // Deps.Logger output (JSON lines)
	anon  *syncBuffer // Deps.AnonLogger output (JSON lines, no time)
}

// newHarness builds the server; opts may change the Deps before api.New.
func newHarness(t *testing.T, opts ...func(*api.Deps)) *harness {
	t.Helper()
	db := surveytest.Open(t)
	clock := newClock()
	svc := survey.New(db, survey.Options{BcryptCost: bcrypt.MinCost, Now: clock.Now, Releaser: &reports.Releaser{}})
	h := &harness{t: t, ctx: context.Background(), db: db, svc: svc, clock: clock, log: &syncBuffer{}, anon: &syncBuffer{}}
	h.deps = api.Deps{
		DB:         db,
		Services:   svc,
		Logger:     slog.New(slog.NewJSONHandler(h.log, nil)),
		AnonLogger: slog.New(slog.NewJSONHandler(h.anon, &slog.HandlerOptions{ReplaceAttr: dropTime})),
		BaseURL:    baseURL,
		SessionTTL: time.Hour,
		Version:    "test",
		Now:        clock.Now,
		TempDir:    t.TempDir(),
	}
	for _, o := range opts {
		o(&h.deps)
	}
	e, err := api.New(h.deps)
	if err != nil {
		t.Fatalf("api.New: %v", err)
	}
	h.e = e
	return h
}

// dropTime is what cmd/pulse does for the anonymous logger.
func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

// --- fixture builders -------------------------------------------------------

// initOrg creates the organisation (and its root team) and returns the root id.
func (h *harness) initOrg(name string) uint {
	h.t.Helper()
	if _, err := h.svc.Org.Init(h.ctx, survey.SettingsInput{Name: name, TimeZone: "Europe/Berlin", MinGroupSize: 5}); err != nil {
		h.t.Fatalf("init org: %v", err)
	}
	return h.root()
}

func (h *harness) root() uint {
	h.t.Helper()
	tr, err := h.svc.Org.Tree(h.ctx)
	if err != nil {
		h.t.Fatalf("tree: %v", err)
	}
	if tr.Root == nil {
		h.t.Fatal("no root team")
	}
	return tr.Root.ID
}

// team creates a team under parent and returns its id.
func (h *harness) team(parent uint, name string) uint {
	h.t.Helper()
	tm, err := h.svc.Org.CreateTeam(h.ctx, parent, name)
	if err != nil {
		h.t.Fatalf("create team %q: %v", name, err)
	}
	return tm.ID
}

// user creates an active account whose password is the package's password.
func (h *harness) user(role survey.Role, email string, teams ...uint) *survey.User {
	h.t.Helper()
	u, err := h.svc.Accounts.CreateUser(h.ctx, survey.UserInput{Email: email, Name: "User " + email, Role: role,
		Password: password, TeamIDs: teams})
	if err != nil {
		h.t.Fatalf("create user %s: %v", email, err)
	}
	return u
}

func (h *harness) admin(email string) *survey.User { return h.user(survey.RoleAdmin, email) }

func (h *harness) leader(email string, teams ...uint) *survey.User {
	return h.user(survey.RoleLeader, email, teams...)
}

func (h *harness) settings() *survey.Settings {
	h.t.Helper()
	st, err := h.svc.Org.Settings(h.ctx)
	if err != nil {
		h.t.Fatalf("settings: %v", err)
	}
	return st
}

// --- client -------------------------------------------------------------------

// client is a browser-like client with a cookie jar. It calls the echo
// server in-process (httptest.NewRecorder), so tests can set RemoteAddr.
type client struct {
	h      *harness
	base   *url.URL // scheme and host of the requests (the deployment's scheme)
	jar    *cookiejar.Jar
	remote string
	header http.Header // added to every request
	csrf   string      // the last CSRF token seen in a page
}

func (h *harness) client() *client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		h.t.Fatal(err)
	}
	b, _ := url.Parse(baseURL)
	if strings.HasPrefix(h.deps.BaseURL, "https://") {
		b.Scheme = "https" // Secure cookies are only sent over https
	}
	return &client{h: h, base: b, jar: jar, remote: defaultRemote, header: http.Header{}}
}

// response is a finished response with its body read.
type response struct {
	*http.Response
	Body string
}

// do sends req with the jar's cookies and stores the cookies it gets back.
func (c *client) do(req *http.Request) *response {
	c.h.t.Helper()
	if req.RemoteAddr == "" || req.RemoteAddr == "192.0.2.1:1234" {
		req.RemoteAddr = c.remote
	}
	for k, vs := range c.header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	for _, ck := range c.jar.Cookies(c.base) {
		req.AddCookie(ck)
	}
	rec := httptest.NewRecorder()
	c.h.e.ServeHTTP(rec, req)
	res := rec.Result()
	res.Request = req
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.h.t.Fatal(err)
	}
	c.jar.SetCookies(c.base, res.Cookies())
	r := &response{Response: res, Body: string(b)}
	if tok := csrfToken(r.Body); tok != "" {
		c.csrf = tok
	}
	return r
}

// newRequest builds a request to path on the client's scheme and host.
func (c *client) newRequest(method, path string, body io.Reader) *http.Request {
	return httptest.NewRequest(method, c.base.Scheme+"://"+c.base.Host+path, body)
}

// get fetches path; hdr is "Key", "value" pairs.
func (c *client) get(path string, hdr ...string) *response {
	c.h.t.Helper()
	req := c.newRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return c.do(req)
}

// post sends a form as is (no CSRF token added); hdr is "Key", "value" pairs.
func (c *client) post(path string, form url.Values, hdr ...string) *response {
	c.h.t.Helper()
	req := c.newRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return c.do(req)
}

// submit posts form with the CSRF token of the last page the client saw,
// fetching formPage first when no token is known yet.
func (c *client) submit(formPage, path string, form url.Values) *response {
	c.h.t.Helper()
	if c.csrf == "" {
		c.get(formPage)
		if c.csrf == "" {
			c.h.t.Fatalf("no CSRF token on %s", formPage)
		}
	}
	f := url.Values{}
	for k, v := range form {
		f[k] = v
	}
	f.Set("_csrf", c.csrf)
	return c.post(path, f)
}

// login signs in through the form and fails the test unless it worked.
func (c *client) login(email string) *response {
	c.h.t.Helper()
	c.get("/login")
	r := c.submit("/login", "/login", url.Values{"email": {email}, "password": {password}})
	if r.StatusCode != http.StatusSeeOther {
		c.h.t.Fatalf("login %s: status %d, want 303; body:\n%s", email, r.StatusCode, r.Body)
	}
	return r
}

// cookie returns the jar's cookie of that name, or nil.
func (c *client) cookie(name string) *http.Cookie {
	for _, ck := range c.jar.Cookies(c.base) {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

// setCookie puts a cookie into the jar (e.g. an old session value).
func (c *client) setCookie(name, value string) {
	c.jar.SetCookies(c.base, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

var csrfRE = regexp.MustCompile(`name="_csrf" value="([^"]*)"`)

// csrfToken extracts the hidden CSRF field of an HTML page.
func csrfToken(body string) string {
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// setCookieNamed returns the Set-Cookie of the response with that name.
func setCookieNamed(r *response, name string) *http.Cookie {
	for _, ck := range r.Cookies() {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

// --- assertions ------------------------------------------------------------

func wantStatus(t *testing.T, r *response, code int) {
	t.Helper()
	if r.StatusCode != code {
		body := r.Body
		if len(body) > 3000 {
			body = body[:3000] + "..."
		}
		t.Fatalf("%s %s: status %d, want %d; body:\n%s", r.Request.Method, r.Request.URL.Path, r.StatusCode, code, body)
	}
}

func wantRedirect(t *testing.T, r *response, location string) {
	t.Helper()
	wantStatus(t, r, http.StatusSeeOther)
	if got := r.Header.Get("Location"); got != location {
		t.Fatalf("%s %s: Location %q, want %q", r.Request.Method, r.Request.URL.Path, got, location)
	}
}

func wantContains(t *testing.T, body string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(body, s) {
			t.Errorf("body does not contain %q", s)
		}
	}
}

func wantNotContains(t *testing.T, body string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if strings.Contains(body, s) {
			t.Errorf("body contains %q", s)
		}
	}
}

// apiErr is the JSON error shape.
type apiErr struct {
	Error struct {
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Fields  map[string]string `json:"fields"`
	} `json:"error"`
}

func decodeAPIError(t *testing.T, r *response) apiErr {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, want JSON; body: %s", ct, r.Body)
	}
	var e apiErr
	if err := json.Unmarshal([]byte(r.Body), &e); err != nil {
		t.Fatalf("error body %q: %v", r.Body, err)
	}
	if e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("error body %q lacks code or message", r.Body)
	}
	return e
}

// layoutMarker is in every page rendered with layout.html.
const layoutMarker = `<header class="site-header">`
