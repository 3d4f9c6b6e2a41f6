package api_test

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestUnknownAPIRouteIsJSON404(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	c := h.client()
	for _, p := range []string{"/api/v1/nope", "/api/nope", "/api/v1/org/nope"} {
		r := c.get(p)
		wantStatus(t, r, http.StatusNotFound)
		if e := decodeAPIError(t, r); e.Error.Code != "not_found" {
			t.Errorf("%s: code %q, want not_found", p, e.Error.Code)
		}
	}
}

func TestUnknownPageIsHTML404(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.client().get("/no-such-page")
	wantStatus(t, r, http.StatusNotFound)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type %q, want HTML", ct)
	}
	wantContains(t, r.Body, layoutMarker, "<title>404 Not Found", `href="/"`)
}

func TestBodyOver1MBIs413(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.initOrg("Acme")
	big := url.Values{"email": {"a@example.com"}, "password": {strings.Repeat("x", 1<<20+10)}}.Encode()

	t.Run("with Content-Length", func(t *testing.T) {
		c := h.client()
		c.get("/login")
		req := c.newRequest(http.MethodPost, "/login", strings.NewReader(big+"&_csrf="+c.csrf))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r := c.do(req)
		wantStatus(t, r, http.StatusRequestEntityTooLarge)
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("Content-Type %q, want the HTML error page", ct)
		}
	})
	t.Run("chunked", func(t *testing.T) {
		c := h.client()
		c.get("/login")
		// io.MultiReader hides the length: the request is sent chunked.
		req := c.newRequest(http.MethodPost, "/login", io.MultiReader(strings.NewReader("_csrf="+c.csrf+"&"), bytes.NewBufferString(big)))
		req.ContentLength = -1
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r := c.do(req)
		wantStatus(t, r, http.StatusRequestEntityTooLarge)
	})
}

func TestAdminSettingsValidation(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.initOrg("Acme")
	h.admin("admin@example.com")
	c := h.client()
	c.login("admin@example.com")
	c.get("/admin")

	r := c.submit("/admin", "/admin/settings", url.Values{"name": {"Acme Renamed"}, "time_zone": {"UTC"}, "min_group_size": {"2"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type %q, want HTML", ct)
	}
	wantContains(t, r.Body, layoutMarker, "The settings were not saved", `id="err-k"`, "cannot be below 3",
		`aria-invalid="true"`, `value="2"`)
	if st := h.settings(); st.MinGroupSize != 5 || st.Name != "Acme" || st.TimeZone != "Europe/Berlin" {
		t.Fatalf("invalid settings were (partly) saved: %+v", st)
	}

	// A bad time zone and an empty name are reported too.
	r = c.submit("/admin", "/admin/settings", url.Values{"name": {"  "}, "time_zone": {"Nowhere/Land"}, "min_group_size": {"5"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantContains(t, r.Body, `id="err-name"`, `id="err-tz"`)

	// A non-number k is a readable error, not a 500.
	r = c.submit("/admin", "/admin/settings", url.Values{"name": {"Acme"}, "time_zone": {"UTC"}, "min_group_size": {"five"}})
	if r.StatusCode >= 500 {
		t.Fatalf("non-numeric k: status %d", r.StatusCode)
	}
	if st := h.settings(); st.MinGroupSize != 5 {
		t.Fatalf("settings changed: %+v", st)
	}
}

func TestInternalErrorsAreGeneric(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.initOrg("Acme")
	h.admin("admin@example.com")
	c := h.client()
	c.login("admin@example.com")
	sqlDB, err := h.db.DB()
	if err != nil {
		t.Fatal(err)
	}
	sqlDB.Close()

	r := c.get("/api/v1/me")
	wantStatus(t, r, http.StatusInternalServerError)
	if e := decodeAPIError(t, r); e.Error.Code != "internal" {
		t.Errorf("code %q, want internal", e.Error.Code)
	}
	r2 := c.get("/admin")
	wantStatus(t, r2, http.StatusInternalServerError)
	wantContains(t, r2.Body, layoutMarker, "Something went wrong")
	for _, body := range []string{r.Body, r2.Body} {
		wantNotContains(t, body, "sql:", "database is closed", "gorm", "survey:")
	}
	if !strings.Contains(h.log.String(), `"level":"ERROR"`) {
		t.Error("a 500 was not logged as an error")
	}
}

// TestTrailingSlashRedirectStaysLocal: the trailing-slash redirect must not
// turn //host/ into an open redirect.
func TestTrailingSlashRedirectStaysLocal(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	c := h.client()
	r := c.get("/login/")
	if r.StatusCode != http.StatusMovedPermanently || r.Header.Get("Location") != "/login" {
		t.Fatalf("/login/: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	for _, p := range []string{"//evil.example/", `/\evil.example/`, "/%2F/evil.example/"} {
		req := c.newRequest(http.MethodGet, "/", nil)
		req.URL.Path, req.URL.RawPath, req.RequestURI = p, "", p
		r := c.do(req)
		loc := r.Header.Get("Location")
		if strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, `/\`) || strings.HasPrefix(loc, `\`) || strings.Contains(loc, "://") {
			t.Errorf("%s: redirects to %q", p, loc)
		}
	}
}
