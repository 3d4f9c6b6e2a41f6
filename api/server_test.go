package api_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/pulse-survey/pulse/api"
	"github.com/pulse-survey/pulse/frontend"
	"github.com/pulse-survey/pulse/survey"
	"github.com/pulse-survey/pulse/survey/migrations"
	"github.com/pulse-survey/pulse/survey/surveytest"
)

// pageSet signs in an admin and a leader and returns a sample of every kind
// of HTML response: public pages, signed-in pages and error pages.
func pageSet(t *testing.T, h *harness) map[string]*response {
	t.Helper()
	root := h.initOrg("Acme")
	h.admin("admin@example.com")
	h.leader("lead@example.com", root)
	anon, admin, leader := h.client(), h.client(), h.client()
	admin.login("admin@example.com")
	leader.login("lead@example.com")
	out := map[string]*response{
		"home":            anon.get("/"),
		"anonymity":       anon.get("/anonymity"),
		"login":           anon.get("/login"),
		"login 401":       anon.submit("/login", "/login", url.Values{"email": {"x@example.com"}, "password": {"nope nope nope"}}),
		"csrf 403":        anon.post("/login", url.Values{}),
		"404":             anon.get("/nope"),
		"setup 404":       anon.get("/setup/nope"),
		"admin":           admin.get("/admin"),
		"admin dashboard": admin.get("/dashboard"),
		"dashboard":       leader.get("/dashboard"),
		"leader 403":      leader.get("/admin"),
	}
	admin.get("/admin")
	out["settings 422"] = admin.submit("/admin", "/admin/settings", url.Values{"name": {"Acme"}, "time_zone": {"UTC"}, "min_group_size": {"2"}})
	big := anon.newRequest(http.MethodPost, "/login", strings.NewReader(strings.Repeat("a", 1<<20+1)))
	big.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	out["413"] = anon.do(big)
	return out
}

func TestSecurityHeadersOnEveryPage(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for name, r := range pageSet(t, h) {
		t.Run(name, func(t *testing.T) {
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Fatalf("Content-Type %q (status %d), want an HTML page", ct, r.StatusCode)
			}
			csp := r.Header.Get("Content-Security-Policy")
			if !strings.Contains(csp, "script-src 'self'") {
				t.Errorf("status %d: Content-Security-Policy %q lacks script-src 'self'", r.StatusCode, csp)
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
				t.Errorf("Content-Security-Policy %q allows unsafe-*", csp)
			}
			for k, want := range map[string]string{
				"X-Content-Type-Options": "nosniff",
				"X-Frame-Options":        "DENY",
				"Referrer-Policy":        "no-referrer",
				"Cache-Control":          "no-cache",
			} {
				if got := r.Header.Get(k); got != want {
					t.Errorf("status %d: %s = %q, want %q", r.StatusCode, k, got, want)
				}
			}
			if sts := r.Header.Get("Strict-Transport-Security"); sts != "" {
				t.Errorf("HSTS %q sent on a plain-http deployment", sts)
			}
		})
	}
}

var (
	scriptTagRE = regexp.MustCompile(`(?is)<script\b[^>]*>`)
	linkTagRE   = regexp.MustCompile(`(?is)<link\b[^>]*>`)
	inlineRE    = regexp.MustCompile(`(?is)\sstyle\s*=|\son[a-z]+\s*=|javascript:`)
	externalRE  = regexp.MustCompile(`(?is)\s(src|href)\s*=\s*"(https?:)?//`)
)

// TestPagesHaveNoInlineCode: the CSP blocks inline script and style, so a
// page relying on them breaks; and nothing may load from another host.
func TestPagesHaveNoInlineCode(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for name, r := range pageSet(t, h) {
		if !strings.Contains(r.Body, layoutMarker) {
			continue
		}
		for _, tag := range scriptTagRE.FindAllString(r.Body, -1) {
			if !strings.Contains(tag, "src=") {
				t.Errorf("%s: inline script %q", name, tag)
			}
		}
		if m := inlineRE.FindString(r.Body); m != "" {
			t.Errorf("%s: inline style/handler %q", name, m)
		}
		for _, tag := range append(scriptTagRE.FindAllString(r.Body, -1), linkTagRE.FindAllString(r.Body, -1)...) {
			if externalRE.MatchString(tag) {
				t.Errorf("%s: loads from another host: %q", name, tag)
			}
		}
	}
}

var cssLinkRE = regexp.MustCompile(`href="(/static/css/pulse\.css\?v=[0-9a-f]+)"`)

func TestStaticAssets(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	c := h.client()
	home := c.get("/")
	m := cssLinkRE.FindStringSubmatch(home.Body)
	if m == nil {
		t.Fatalf("layout links no fingerprinted /static/css/pulse.css?v=...:\n%s", home.Body)
	}
	want, err := fs.ReadFile(frontend.Static(), "css/pulse.css")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("fingerprinted CSS is immutable", func(t *testing.T) {
		r := c.get(m[1])
		wantStatus(t, r, http.StatusOK)
		if cc := r.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("Cache-Control %q", cc)
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
			t.Errorf("Content-Type %q", ct)
		}
		if r.Body != string(want) {
			t.Error("served CSS differs from the embedded file")
		}
	})
	t.Run("unfingerprinted or stale is revalidated", func(t *testing.T) {
		for _, p := range []string{"/static/css/pulse.css", "/static/css/pulse.css?v=000000000000"} {
			r := c.get(p)
			wantStatus(t, r, http.StatusOK)
			if cc := r.Header.Get("Cache-Control"); cc != "no-cache" {
				t.Errorf("%s: Cache-Control %q, want no-cache", p, cc)
			}
		}
	})
	t.Run("gzip", func(t *testing.T) {
		r := c.get(m[1], "Accept-Encoding", "gzip")
		wantStatus(t, r, http.StatusOK)
		if ce := r.Header.Get("Content-Encoding"); ce != "gzip" {
			t.Fatalf("Content-Encoding %q, want gzip", ce)
		}
		zr, err := gzip.NewReader(strings.NewReader(r.Body))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Error("gunzipped CSS differs from the embedded file")
		}
		if cc := r.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("gzipped Cache-Control %q", cc)
		}
	})
	t.Run("echarts", func(t *testing.T) {
		r := c.get("/static/vendor/echarts/echarts.min.js")
		wantStatus(t, r, http.StatusOK)
		if ct := r.Header.Get("Content-Type"); !strings.Contains(ct, "javascript") {
			t.Errorf("Content-Type %q, want JavaScript", ct)
		}
		if len(r.Body) < 500_000 {
			t.Errorf("echarts.min.js is only %d bytes", len(r.Body))
		}
		if r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Error("static file without nosniff")
		}
	})
	t.Run("missing asset", func(t *testing.T) {
		wantStatus(t, c.get("/static/nope.js"), http.StatusNotFound)
		wantStatus(t, c.get("/static/../templates/layout.html"), http.StatusNotFound)
	})
}

func TestHealth(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	c := h.client()

	r := c.get("/healthz")
	wantStatus(t, r, http.StatusOK)
	var body map[string]string
	if err := json.Unmarshal([]byte(r.Body), &body); err != nil || body["status"] != "ok" {
		t.Fatalf("/healthz body %q: %v", r.Body, err)
	}

	r = c.get("/readyz")
	wantStatus(t, r, http.StatusOK)
	if err := json.Unmarshal([]byte(r.Body), &body); err != nil || body["status"] != "ok" {
		t.Fatalf("/readyz body %q: %v", r.Body, err)
	}

	sqlDB, err := h.db.DB()
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlDB.Close(); err != nil {
		t.Fatal(err)
	}
	r = c.get("/readyz")
	wantStatus(t, r, http.StatusServiceUnavailable)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	wantNotContains(t, r.Body, "sql:", "closed")
	// Liveness does not depend on the database.
	wantStatus(t, c.get("/healthz"), http.StatusOK)
}

// TestReadyzSchema: a database that answers but has no schema is not ready.
func TestReadyzSchema(t *testing.T) {
	t.Parallel()
	empty := surveytest.OpenEmpty(t)
	h := newHarness(t, func(d *api.Deps) {
		d.DB = empty
		d.Services = survey.New(empty, survey.Options{BcryptCost: bcrypt.MinCost})
	})
	r := h.client().get("/readyz")
	wantStatus(t, r, http.StatusServiceUnavailable)
	wantContains(t, r.Body, "not migrated")
	wantStatus(t, h.client().get("/healthz"), http.StatusOK)

	if err := migrations.Up(h.ctx, empty); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, h.client().get("/readyz"), http.StatusOK)
}

const (
	secretIP    = "203.0.113.7"
	forwardedIP = "198.51.100.9"
	secretUA    = "UniqueAgent/9.9"
)

func TestRequestLogOmitsClientIdentity(t *testing.T) {
	t.Parallel()
	for _, trust := range []bool{false, true} {
		name := "direct"
		if trust {
			name = "behind proxy"
		}
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, func(d *api.Deps) { d.TrustProxy = trust })
			h.initOrg("Acme")
			h.admin("admin@example.com")
			setupTok := "SeCrEtSeTuPtOkEn123"
			c := h.client()
			c.remote = secretIP + ":1234"
			c.header.Set("X-Forwarded-For", forwardedIP)
			c.header.Set("User-Agent", secretUA)

			wantStatus(t, c.get("/login"), http.StatusOK)
			wantStatus(t, c.submit("/login", "/login", url.Values{"email": {"admin@example.com"}, "password": {"wrong wrong wrong"}}), http.StatusUnauthorized)
			c.login("admin@example.com")
			wantStatus(t, c.get("/admin"), http.StatusOK)
			wantStatus(t, c.get("/nope"), http.StatusNotFound)
			wantStatus(t, c.get("/setup/"+setupTok), http.StatusNotFound)
			wantStatus(t, c.get("/api/v1/me"), http.StatusOK)

			logs := h.log.String()
			for _, secret := range []string{secretIP, forwardedIP, secretUA, "UniqueAgent", setupTok, "admin@example.com", "wrong wrong"} {
				if strings.Contains(logs, secret) {
					t.Errorf("log contains %q:\n%s", secret, logs)
				}
			}
			routes := map[string]bool{}
			for _, l := range h.log.Lines(t) {
				if l["msg"] == "request" {
					routes[l["method"].(string)+" "+l["route"].(string)] = true
					if _, ok := l["request_id"]; !ok {
						t.Errorf("request line without request_id: %v", l)
					}
				}
				for k := range l {
					switch strings.ToLower(k) {
					case "remote_ip", "ip", "user_agent", "ua", "forwarded", "x-forwarded-for":
						t.Errorf("log key %q in %v", k, l)
					}
				}
			}
			for _, want := range []string{"GET /login", "POST /login", "GET /admin", "GET /setup/:token", "GET /api/v1/me"} {
				if !routes[want] {
					t.Errorf("no request line for %s; got %v", want, routes)
				}
			}
			if h.anon.String() != "" {
				t.Errorf("non-survey routes logged to the anonymous logger:\n%s", h.anon.String())
			}
		})
	}
}

func TestSurveyRoutesLogAnonymously(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(d *api.Deps) { d.TrustProxy = true })
	h.initOrg("Acme")
	c := h.client()
	c.remote = secretIP + ":1234"
	c.header.Set("X-Forwarded-For", forwardedIP)
	c.header.Set("User-Agent", secretUA)

	const linkSecret = "PeRsOnAlInViTeSeCrEt42"
	// Whatever the survey handlers answer (they are being built; an unknown
	// link or an unrouted path is a 4xx), the logging must be anonymous.
	paths := []string{"/s/" + linkSecret, "/s/" + linkSecret + "/answer", "/api/v1/survey/" + linkSecret,
		"/api/v1/survey/rounds/999/manifest"}
	for _, p := range paths {
		r := c.get(p)
		if id := r.Header.Get("X-Request-Id"); id != "" {
			t.Errorf("%s: X-Request-Id %q on an anonymous route", p, id)
		}
		// Routed survey pages set no cookie (unrouted /api/v1/... paths fall into
		// the /api/v1 group's CSRF middleware, so they are not checked here).
		if ck := r.Header.Values("Set-Cookie"); len(ck) > 0 && strings.HasPrefix(p, "/s/") {
			t.Errorf("%s: sets cookies on an anonymous route: %v", p, ck)
		}
	}
	c.post("/s/"+linkSecret, url.Values{"answer": {"5"}})
	issue := c.newRequest(http.MethodPost, "/api/v1/survey/issue",
		strings.NewReader(`{"secret":"`+linkSecret+`","blinded_msg":"QUFBQQ"}`))
	issue.Header.Set("Content-Type", "application/json")
	c.do(issue)

	if strings.Contains(h.log.String(), linkSecret) || strings.Contains(h.log.String(), `"/s/`) {
		t.Errorf("survey route in the main log:\n%s", h.log.String())
	}
	for _, l := range h.log.Lines(t) {
		if route, _ := l["route"].(string); strings.HasPrefix(route, "/s") {
			t.Errorf("survey request in the main log: %v", l)
		}
	}
	lines := h.anon.Lines(t)
	if len(lines) < len(paths) {
		t.Fatalf("anonymous log has %d lines, want at least %d:\n%s", len(lines), len(paths), h.anon.String())
	}
	for _, l := range lines {
		if _, ok := l["time"]; ok {
			t.Errorf("anonymous log line has a time: %v", l)
		}
		if _, ok := l["request_id"]; ok {
			t.Errorf("anonymous log line has a request_id: %v", l)
		}
		if _, ok := l["ms"]; ok {
			t.Errorf("anonymous log line has a duration: %v", l)
		}
	}
	raw := h.anon.String()
	for _, secret := range []string{secretIP, forwardedIP, secretUA, linkSecret, `"answer"`, "QUFBQQ"} {
		if strings.Contains(raw, secret) {
			t.Errorf("anonymous log contains %q:\n%s", secret, raw)
		}
	}
}

// xssName breaks out of an inline script or an attribute if not escaped.
const xssName = `</script><img src=x onerror=alert(1)>`

func TestTeamNamesAreEscaped(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	// Team names cannot contain "/", so the exact payload goes in as the
	// organisation's name (the root team's name); a slash-free variant as a team.
	root := h.initOrg(xssName)
	h.team(root, `"><img src=x onerror=alert(2)>`)
	h.admin("admin@example.com")
	h.leader("lead@example.com", root)
	admin, leader := h.client(), h.client()
	admin.login("admin@example.com")
	leader.login("lead@example.com")

	for name, r := range map[string]*response{
		"admin":           admin.get("/admin"),
		"admin dashboard": admin.get("/dashboard"),
		"dashboard":       leader.get("/dashboard"),
		"home":            h.client().get("/"),
	} {
		t.Run(name, func(t *testing.T) {
			wantStatus(t, r, http.StatusOK)
			wantNotContains(t, r.Body, "<img src=x", "</script><img")
			wantContains(t, r.Body, "&lt;img src=x onerror=alert(1)&gt;")
			if name != "home" {
				wantContains(t, r.Body, "&lt;img src=x onerror=alert(2)&gt;")
			}
		})
	}

	// JSON escapes it too (and is served as JSON, never sniffed as HTML).
	r := leader.get("/api/v1/org/teams")
	wantStatus(t, r, http.StatusOK)
	wantNotContains(t, r.Body, "<img")
}

func TestDemoHint(t *testing.T) {
	t.Parallel()
	for _, demo := range []bool{true, false} {
		h := newHarness(t, func(d *api.Deps) { d.Demo = demo })
		r := h.client().get("/")
		wantStatus(t, r, http.StatusOK)
		mentions := strings.Contains(strings.ToLower(r.Body), "demo")
		if mentions != demo {
			t.Errorf("Demo=%v: home page mentions the demo = %v", demo, mentions)
		}
		if demo {
			wantContains(t, r.Body, "This is the demo")
		}
	}
}
