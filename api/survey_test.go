package api_test

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/pulse-survey/pulse/api"
	"github.com/pulse-survey/pulse/reports"
	"github.com/pulse-survey/pulse/survey"
)

// Tests of the employees' survey routes: the page, the key manifest, token
// issuance and ballots, over HTTP against a real database.

const (
	issuePath  = "/api/v1/survey/issue"
	ballotPath = "/api/v1/survey/ballots"
)

// surveyEnv is a harness whose services have a keyring, with an organisation
// of two teams of six (two token units) and one open round.
type surveyEnv struct {
	*harness
	round     *survey.Round
	links     []survey.InviteLink // sorted by email
	questions []survey.RoundQuestion
}

// newSurveyEnv launches a round of a program over the whole built-in bank
// (8 items, k=5, every two weeks at 09:00, open 5 days).
func newSurveyEnv(t *testing.T, opts ...func(*api.Deps)) *surveyEnv {
	t.Helper()
	return newSurveyEnvOf(t, []string{"Engineering", "Sales"}, 6, opts...)
}

// newSurveyEnvOf is newSurveyEnv with perTeam people in each of teams.
func newSurveyEnvOf(t *testing.T, teams []string, perTeam int, opts ...func(*api.Deps)) *surveyEnv {
	t.Helper()
	master := make([]byte, 32)
	if _, err := rand.Read(master); err != nil {
		t.Fatal(err)
	}
	kr, err := survey.NewKeyring(master)
	if err != nil {
		t.Fatalf("keyring: %v", err)
	}
	withKeys := func(d *api.Deps) {
		d.Services = survey.New(d.DB, survey.Options{BcryptCost: bcrypt.MinCost, Now: d.Now, Keyring: kr, Releaser: &reports.Releaser{}})
	}
	h := newHarness(t, append([]func(*api.Deps){withKeys}, opts...)...)
	h.svc = h.deps.Services
	e := &surveyEnv{harness: h}

	root := h.initOrg("Acme")
	for _, name := range teams {
		team := h.team(root, name)
		for i := 0; i < perTeam; i++ {
			email := fmt.Sprintf("%s-%d@acme.example", strings.ToLower(name), i)
			if _, err := h.svc.Org.CreatePerson(h.ctx, survey.PersonInput{Email: email, Name: fmt.Sprintf("%s %d", name, i),
				TeamID: team, Active: true}); err != nil {
				t.Fatalf("create person %s: %v", email, err)
			}
		}
	}
	if err := h.svc.Programs.SyncBuiltinQuestions(h.ctx); err != nil {
		t.Fatalf("sync bank: %v", err)
	}
	qs, err := h.svc.Programs.Questions(h.ctx)
	if err != nil {
		t.Fatalf("questions: %v", err)
	}
	ids := make([]uint, len(qs))
	for i, q := range qs {
		ids[i] = q.ID
	}
	prog, err := h.svc.Programs.CreateProgram(h.ctx, survey.ProgramInput{Name: "Pulse", Cadence: survey.CadenceWeeks,
		IntervalWeeks: 2, Weekday: time.Monday, TimeOfDay: "09:00", OpenDays: 5, ItemsPerRound: 8, MinGroupSize: 5,
		QuestionIDs: ids})
	if err != nil {
		t.Fatalf("create program: %v", err)
	}
	if e.round, err = h.svc.Rounds.Launch(h.ctx, prog.ID); err != nil {
		t.Fatalf("launch: %v", err)
	}
	if e.links, err = h.svc.Rounds.Links(h.ctx, e.round.ID); err != nil {
		t.Fatalf("links: %v", err)
	}
	if len(e.links) != len(teams)*perTeam {
		t.Fatalf("%d links, want %d", len(e.links), len(teams)*perTeam)
	}
	v, err := h.svc.Rounds.SurveyBySecret(h.ctx, e.links[0].Secret)
	if err != nil {
		t.Fatalf("survey by secret: %v", err)
	}
	e.questions = v.Questions
	if len(e.questions) != 8 {
		t.Fatalf("%d questions in the round, want 8", len(e.questions))
	}
	return e
}

// surveyCounts are the rows a survey request may write.
type surveyCounts struct {
	Box, Spent, Issued int64
}

func (e *surveyEnv) counts() surveyCounts {
	e.t.Helper()
	var c surveyCounts
	db := e.db.WithContext(e.ctx)
	if err := db.Table("ballot_box").Count(&c.Box).Error; err != nil {
		e.t.Fatalf("count ballot_box: %v", err)
	}
	if err := db.Table("spent_tokens").Count(&c.Spent).Error; err != nil {
		e.t.Fatalf("count spent_tokens: %v", err)
	}
	if err := db.Table("invitations").Where("token_issued = ?", true).Count(&c.Issued).Error; err != nil {
		e.t.Fatalf("count issued invitations: %v", err)
	}
	return c
}

// tokenIssued reports the invitation's token_issued flag.
func (e *surveyEnv) tokenIssued(secret string) bool {
	e.t.Helper()
	v, err := e.svc.Rounds.SurveyBySecret(e.ctx, secret)
	if err != nil {
		e.t.Fatalf("survey by secret: %v", err)
	}
	return v.TokenIssued
}

// manifest fetches the round's manifest bytes over HTTP.
func (e *surveyEnv) manifest(c *client) []byte {
	e.t.Helper()
	r := c.get(fmt.Sprintf("/api/v1/survey/rounds/%d/manifest", e.round.ID), api.LinkHeader, e.links[0].Secret)
	wantStatus(e.t, r, http.StatusOK)
	return []byte(r.Body)
}

// surveyPageInfo is what the survey page tells the browser.
type surveyPageInfo struct {
	Round, Unit  uint
	KeyID        string
	ManifestHash string
	State        string
}

var (
	dataAttrRE = regexp.MustCompile(`data-(round|unit|key-id|manifest-hash|state)="([^"]*)"`)
	fieldsetRE = regexp.MustCompile(`(?s)<fieldset class="scale" data-question-id="(\d+)">(.*?)</fieldset>`)
	legendRE   = regexp.MustCompile(`(?s)<legend>(.*?)</legend>`)
	radioRE    = regexp.MustCompile(`<input type="radio"`)
	scriptRE   = regexp.MustCompile(`<script[^>]*src="/static/js/survey\.js(\?v=[0-9a-f]+)?"`)
)

func parseSurveyPage(t *testing.T, body string) surveyPageInfo {
	t.Helper()
	var p surveyPageInfo
	for _, m := range dataAttrRE.FindAllStringSubmatch(body, -1) {
		switch m[1] {
		case "round", "unit":
			n, err := strconv.ParseUint(m[2], 10, 32)
			if err != nil {
				t.Fatalf("data-%s=%q", m[1], m[2])
			}
			if m[1] == "round" {
				p.Round = uint(n)
			} else {
				p.Unit = uint(n)
			}
		case "key-id":
			p.KeyID = m[2]
		case "manifest-hash":
			p.ManifestHash = m[2]
		case "state":
			p.State = m[2]
		}
	}
	if p.Round == 0 || p.Unit == 0 || p.KeyID == "" || p.ManifestHash == "" || p.State == "" {
		t.Fatalf("survey page lacks data attributes: %+v", p)
	}
	return p
}

// errStopBlinding ends survey.ObtainToken once it produced a blinded message.
var errStopBlinding = errors.New("stop after blinding")

// blindedFor builds a valid blinded message for the invitation's key
// without sending it.
func (e *surveyEnv) blindedFor(c *client, secret string) []byte {
	e.t.Helper()
	p := parseSurveyPage(e.t, c.get("/s/"+secret).Body)
	var blinded []byte
	_, err := survey.ObtainToken(e.manifest(c), p.Round, p.Unit, p.KeyID, func(b []byte) ([]byte, error) {
		blinded = b
		return nil, errStopBlinding
	})
	if !errors.Is(err, errStopBlinding) || len(blinded) != 256 {
		e.t.Fatalf("blinding: %v (%d bytes)", err, len(blinded))
	}
	return blinded
}

// postBody posts body with the content type as is (none when empty).
func (c *client) postBody(path, contentType, body string) *response {
	c.h.t.Helper()
	req := c.newRequest(http.MethodPost, path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return c.do(req)
}

func (c *client) postJSON(path, body string) *response {
	c.h.t.Helper()
	return c.postBody(path, "application/json", body)
}

func issueJSON(secret string, blinded []byte) string {
	b, _ := json.Marshal(map[string]string{"secret": secret, "blinded_msg": survey.EncodeB64(blinded)})
	return string(b)
}

// issued is one issuance as the browser sees it.
type issued struct {
	Token    *survey.Token
	Blinded  []byte
	BlindSig []byte
	Page     surveyPageInfo
}

// obtain does what the survey page does up to the token: read the page and
// the manifest, blind, POST the issue request, finalize and verify.
func (e *surveyEnv) obtain(c *client, secret string) issued {
	e.t.Helper()
	page := c.get("/s/" + secret)
	wantStatus(e.t, page, http.StatusOK)
	out := issued{Page: parseSurveyPage(e.t, page.Body)}
	tok, err := survey.ObtainToken(e.manifest(c), out.Page.Round, out.Page.Unit, out.Page.KeyID, func(b []byte) ([]byte, error) {
		out.Blinded = b
		r := c.postJSON(issuePath, issueJSON(secret, b))
		if r.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("issue: status %d: %s", r.StatusCode, r.Body)
		}
		var res struct {
			BlindSig string `json:"blind_sig"`
		}
		dec := json.NewDecoder(strings.NewReader(r.Body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&res); err != nil {
			return nil, fmt.Errorf("issue response %q: %w", r.Body, err)
		}
		sig, err := survey.DecodeB64(res.BlindSig)
		out.BlindSig = sig
		return sig, err
	})
	if err != nil {
		e.t.Fatalf("obtain token: %v", err)
	}
	out.Token = tok
	return out
}

// answers is a complete, valid set of answers of the round.
func (e *surveyEnv) answers() map[uint]int {
	m := map[uint]int{}
	for i, q := range e.questions {
		m[q.QuestionID] = 1 + i%5
	}
	return m
}

// ballotFields is a valid ballot request as a map, so cases can break it
// freely: the answers and a comment sealed to the round's box key, as the
// survey page sends them.
func (e *surveyEnv) ballotFields(tok *survey.Token) map[string]any {
	return e.sealedFields(tok, e.answers(), "Good pace this sprint.")
}

// sealedFields is a ballot request of tok with the given answers and
// comment, sealed.
func (e *surveyEnv) sealedFields(tok *survey.Token, answers map[uint]int, comment string) map[string]any {
	e.t.Helper()
	in, err := tok.Ballot(answers, comment)
	if err != nil {
		e.t.Fatalf("seal: %v", err)
	}
	if in.Sealed == nil {
		e.t.Fatal("the round has no box key: the ballot was not sealed")
	}
	return map[string]any{
		"key_id":    tok.KeyID,
		"message":   survey.EncodeB64(tok.Message),
		"signature": survey.EncodeB64(tok.Signature),
		"sealed":    survey.EncodeB64(in.Sealed),
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// wantAPIError checks status, the JSON error shape and its code.
func wantAPIError(t *testing.T, r *response, status int, code string) apiErr {
	t.Helper()
	wantStatus(t, r, status)
	e := decodeAPIError(t, r)
	if code != "" && e.Error.Code != code {
		t.Errorf("error code %q, want %q; body %s", e.Error.Code, code, r.Body)
	}
	return e
}

// --- 1. the survey page ------------------------------------------------------

func TestSurveyPage(t *testing.T) {
	t.Parallel()
	e := newSurveyEnv(t)
	c := e.client()
	secret := e.links[0].Secret
	r := c.get("/s/" + secret)
	wantStatus(t, r, http.StatusOK)

	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type %q, want HTML", ct)
	}
	if ck := r.Header.Values("Set-Cookie"); len(ck) != 0 {
		t.Errorf("survey page sets cookies: %q", ck)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	csp := r.Header.Get("Content-Security-Policy")
	if csp == "" || strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") || !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	if rp := r.Header.Get("Referrer-Policy"); rp != "no-referrer" {
		t.Errorf("Referrer-Policy %q, want no-referrer", rp)
	}
	if id := r.Header.Get("X-Request-Id"); id != "" {
		t.Errorf("X-Request-Id %q on the survey page", id)
	}

	p := parseSurveyPage(t, r.Body)
	if p.State != "open" || p.Round != e.round.ID {
		t.Errorf("page state %q round %d, want open, %d", p.State, p.Round, e.round.ID)
	}
	manifest := e.manifest(c)
	if p.ManifestHash != sha256Hex(manifest) {
		t.Errorf("data-manifest-hash %s, manifest sha256 %s", p.ManifestHash, sha256Hex(manifest))
	}
	view, err := e.svc.Rounds.SurveyBySecret(e.ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	if p.KeyID != view.KeyID || p.Unit != view.UnitID {
		t.Errorf("page key %s unit %d, want %s %d", p.KeyID, p.Unit, view.KeyID, view.UnitID)
	}
	if !strings.Contains(string(manifest), `"key_id":"`+p.KeyID+`"`) {
		t.Errorf("page key id %s is not in the manifest", p.KeyID)
	}

	// One fieldset per item, its legend the statement, five labelled radios.
	sets := fieldsetRE.FindAllStringSubmatch(r.Body, -1)
	if len(sets) != len(e.questions) {
		t.Fatalf("%d fieldsets, want %d", len(sets), len(e.questions))
	}
	labels := []string{"Strongly disagree", "Disagree", "Neither agree nor disagree", "Agree", "Strongly agree"}
	for i, q := range e.questions {
		id, body := sets[i][1], sets[i][2]
		if id != strconv.FormatUint(uint64(q.QuestionID), 10) {
			t.Errorf("fieldset %d is question %s, want %d", i, id, q.QuestionID)
		}
		lg := legendRE.FindStringSubmatch(body)
		if lg == nil || !strings.Contains(html.UnescapeString(lg[1]), q.Text) {
			t.Errorf("fieldset %s: legend lacks %q", id, q.Text)
		}
		if n := len(radioRE.FindAllString(body, -1)); n != 5 {
			t.Errorf("fieldset %s: %d radios, want 5", id, n)
		}
		for v := 1; v <= 5; v++ {
			re := regexp.MustCompile(`(?s)<label class="scale-option"><input type="radio" name="q-` + id + `" value="` +
				strconv.Itoa(v) + `"[^>]*>(.*?)</label>`)
			m := re.FindStringSubmatch(body)
			if m == nil {
				t.Errorf("fieldset %s: no radio %d inside a label", id, v)
				continue
			}
			if !strings.Contains(m[1], labels[v-1]) {
				t.Errorf("fieldset %s: radio %d is labelled %q, want %q", id, v, strings.TrimSpace(m[1]), labels[v-1])
			}
		}
	}
	wantContains(t, r.Body, `href="/anonymity"`, `<textarea id="comment"`)
	if !scriptRE.MatchString(r.Body) {
		t.Errorf("page does not load /static/js/survey.js")
	}
	// Nothing personal on the page: not the invitee's name or email.
	wantNotContains(t, r.Body, e.links[0].Email, e.links[0].Name)
}

// Every invitee of a unit gets the same key and everyone the same manifest
// hash: no key tagging through the page.
func TestSurveyPageKeysPerUnit(t *testing.T) {
	t.Parallel()
	e := newSurveyEnv(t)
	c := e.client()
	hash := ""
	keyOfUnit := map[uint]string{}
	units := map[string]uint{}
	for _, l := range e.links {
		r := c.get("/s/" + l.Secret)
		wantStatus(t, r, http.StatusOK)
		p := parseSurveyPage(t, r.Body)
		if hash == "" {
			hash = p.ManifestHash
		} else if p.ManifestHash != hash {
			t.Errorf("%s: manifest hash %s, others %s", l.Email, p.ManifestHash, hash)
		}
		if k, ok := keyOfUnit[p.Unit]; ok && k != p.KeyID {
			t.Errorf("%s: unit %d key %s, others %s", l.Email, p.Unit, p.KeyID, k)
		}
		keyOfUnit[p.Unit] = p.KeyID
		if u, ok := units[p.KeyID]; ok && u != p.Unit {
			t.Errorf("key %s serves units %d and %d", p.KeyID, u, p.Unit)
		}
		units[p.KeyID] = p.Unit
	}
	if len(keyOfUnit) != 2 {
		t.Errorf("%d units, want 2 (Engineering and Sales)", len(keyOfUnit))
	}
}

func TestSurveyPageUnknownSecret(t *testing.T) {
	t.Parallel()
	e := newSurveyEnv(t)
	c := e.client()
	for _, secret := range []string{"NoSuchSecret0123456789", e.links[0].Secret + "x", strings.Repeat("A", 2000), "%00%27%22"} {
		r := c.get("/s/" + secret)
		wantStatus(t, r, http.StatusNotFound)
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("Content-Type %q, want an HTML page", ct)
		}
		wantContains(t, r.Body, layoutMarker, "This link is not valid", `href="/anonymity"`)
		wantNotContains(t, r.Body, `<form id="pulse-survey"`, "Something went wrong")
		if ck := r.Header.Values("Set-Cookie"); len(ck) != 0 {
			t.Errorf("unknown link page sets cookies: %q", ck)
		}
		if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", cc)
		}
	}
}

func TestSurveyPageAfterIssue(t *testing.T) {
	t.Parallel()
	e := newSurveyEnv(t)
	c := e.client()
	secret := e.links[3].Secret
	e.obtain(c, secret)
	r := c.get("/s/" + secret)
	wantStatus(t, r, http.StatusOK)
	if p := parseSurveyPage(t, r.Body); p.State != "issued" {
		t.Errorf("data-state %q after issuance, want issued", p.State)
	}
	wantContains(t, r.Body, `data-state="issued"`, `id="already-answered"`)
	// Others are still open.
	if p := parseSurveyPage(t, c.get("/s/"+e.links[4].Secret).Body); p.State != "open" {
		t.Errorf("another invitee's page is %q, want open", p.State)
	}
}

func TestSurveyPageClosedRound(t *testing.T) {
	t.Parallel()
	checkClosed := func(t *testing.T, r *response) {
		t.Helper()
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r.Body, "This round is closed")
		wantNotContains(t, r.Body, `<form id="pulse-survey"`, `type="radio"`, "survey.js", "data-key-id")
		if ck := r.Header.Values("Set-Cookie"); len(ck) != 0 {
			t.Errorf("closed page sets cookies: %q", ck)
		}
	}
	t.Run("closed", func(t *testing.T) {
		e := newSurveyEnv(t)
		c := e.client()
		secret := e.links[0].Secret
		if err := e.svc.Rounds.Close(e.ctx, e.round.ID); err != nil {
			t.Fatalf("close: %v", err)
		}
		checkClosed(t, c.get("/s/"+secret))
	})
	t.Run("past closes_at", func(t *testing.T) {
		e := newSurveyEnv(t)
		c := e.client()
		e.clock.Advance(e.round.ClosesAt.Sub(e.clock.Now()))
		checkClosed(t, c.get("/s/"+e.links[0].Secret))
	})
}

// --- 2. the key manifest -----------------------------------------------------

func TestSurveyManifest(t *testing.T) {
	t.Parallel()
	e := newSurveyEnv(t)
	e.admin("hr@acme.example")
	anon := e.client()
	signedIn := e.client()
	signedIn.login("hr@acme.example")
	if len(signedIn.jar.Cookies(signedIn.base)) == 0 {
		t.Fatal("the signed-in client has no cookies")
	}
	path := fmt.Sprintf("/api/v1/survey/rounds/%d/manifest", e.round.ID)
	link := func(i int) []string { return []string{api.LinkHeader, e.links[i].Secret} }
	r1 := anon.get(path, link(0)...)
	r2 := signedIn.get(path, link(1)...)
	wantStatus(t, r1, http.StatusOK)
	wantStatus(t, r2, http.StatusOK)
	if r2.Request.Header.Get("Cookie") == "" {
		t.Fatal("the second request carried no cookie")
	}
	if r1.Body != r2.Body {
		t.Errorf("manifest differs between callers:\n%s\n%s", r1.Body, r2.Body)
	}
	for _, r := range []*response{r1, r2} {
		if got := r.Header.Get("X-Pulse-Manifest-SHA256"); got != sha256Hex([]byte(r.Body)) {
			t.Errorf("X-Pulse-Manifest-SHA256 %s, body sha256 %s", got, sha256Hex([]byte(r.Body)))
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("Content-Type %q", ct)
		}
		if ck := r.Header.Values("Set-Cookie"); len(ck) != 0 {
			t.Errorf("manifest sets cookies: %q", ck)
		}
	}

	var m struct {
		Version      string `json:"version"`
		Round        uint   `json:"round"`
		MinGroupSize int    `json:"min_group_size"`
		Box          struct {
			KEM       string `json:"kem"`
			KEMID     uint16 `json:"kem_id"`
			KDFID     uint16 `json:"kdf_id"`
			AEADID    uint16 `json:"aead_id"`
			PublicKey string `json:"public_key"`
		} `json:"box"`
		Keys []struct {
			Unit    uint     `json:"unit"`
			KeyID   string   `json:"key_id"`
			SPKI    string   `json:"spki"`
			Invited int      `json:"invited"`
			Teams   []string `json:"teams"`
		} `json:"keys"`
	}
	dec := json.NewDecoder(strings.NewReader(r1.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("manifest %s: %v", r1.Body, err)
	}
	if m.Version != "pulse-manifest/v2" || m.Round != e.round.ID || len(m.Keys) != 2 || m.MinGroupSize != 5 {
		t.Fatalf("manifest version %q round %d k %d with %d keys", m.Version, m.Round, m.MinGroupSize, len(m.Keys))
	}
	// The box key ballots are sealed to: X-Wing, HKDF-SHA256, AES-128-GCM.
	if box, err := survey.DecodeB64(m.Box.PublicKey); err != nil || len(box) != 1216 ||
		m.Box.KEM != "X-Wing" || m.Box.KEMID != 0x647a || m.Box.KDFID != 1 || m.Box.AEADID != 1 {
		t.Errorf("box key %+v (%d bytes, %v)", m.Box, len(box), err)
	}
	// Each unit with its teams and invitees, so a page can see whom it pools with.
	if k := m.Keys; k[0].Invited != 6 || fmt.Sprint(k[0].Teams) != "[Engineering]" || k[1].Invited != 6 || fmt.Sprint(k[1].Teams) != "[Sales]" {
		t.Errorf("units %+v, want Engineering and Sales with 6 invitees each", k)
	}
	pageKeys := map[uint]string{}
	for _, l := range e.links {
		p := parseSurveyPage(t, anon.get("/s/"+l.Secret).Body)
		pageKeys[p.Unit] = p.KeyID
	}
	for i, k := range m.Keys {
		if i > 0 && m.Keys[i-1].Unit >= k.Unit {
			t.Errorf("keys not ordered by unit: %d then %d", m.Keys[i-1].Unit, k.Unit)
		}
		spki, err := survey.DecodeB64(k.SPKI)
		if err != nil || strings.ContainsAny(k.SPKI, "+/=") {
			t.Fatalf("unit %d: spki is not unpadded base64url: %v", k.Unit, err)
		}
		pub, err := x509.ParsePKIXPublicKey(spki)
		if err != nil {
			t.Fatalf("unit %d: spki: %v", k.Unit, err)
		}
		if rk, ok := pub.(*rsa.PublicKey); !ok || rk.N.BitLen() != 2048 {
			t.Errorf("unit %d: not an RSA-2048 key", k.Unit)
		}
		if k.KeyID != survey.KeyID(spki) {
			t.Errorf("unit %d: key_id %s, sha256(spki) %s", k.Unit, k.KeyID, survey.KeyID(spki))
		}
		if pageKeys[k.Unit] != k.KeyID {
			t.Errorf("unit %d: manifest key %s, page key %s", k.Unit, k.KeyID, pageKeys[k.Unit])
		}
	}

	// The manifest does not change with issuance or ballots.
	got := e.obtain(anon, e.links[0].Secret)
	wantStatus(t, anon.postJSON(ballotPath, mustJSON(t, e.ballotFields(got.Token))), http.StatusCreated)
	if r3 := anon.get(path, link(2)...); r3.Body != r1.Body {
		t.Errorf("manifest changed after a ballot")
	}

	// It names teams and their sizes: not for someone without a link of
	// the round, signed in or not.
	for _, hdr := range [][]string{nil, {api.LinkHeader, ""}, {api.LinkHeader, "not-a-link"}} {
		wantAPIError(t, anon.get(path, hdr...), http.StatusNotFound, "not_found")
		wantAPIError(t, signedIn.get(path, hdr...), http.StatusNotFound, "not_found")
	}
	for _, bad := range []string{"999999", "0", "abc", "-1", "4294967296"} {
		r := anon.get("/api/v1/survey/rounds/"+bad+"/manifest", link(0)...)
		wantAPIError(t, r, http.StatusNotFound, "not_found")
	}
}

// --- 3. the whole flow -------------------------------------------------------

func TestSurveyFullFlow(t *testing.T) {
	t.Parallel()
	e := newSurveyEnv(t)
	c := e.client()
	secret := e.links[5].Secret
	got := e.obtain(c, secret)
	if !e.tokenIssued(secret) {
		t.Fatal("invitation not marked token_issued")
	}
	if n := e.counts(); n != (surveyCounts{Issued: 1}) {
		t.Fatalf("after issuance: %+v", n)
	}
	if ck := c.jar.Cookies(c.base); len(ck) != 0 {
		t.Fatalf("the survey flow left cookies: %v", ck)
	}

	// A retry with the same blinded message gets the same signature back.
	r := c.postJSON(issuePath, issueJSON(secret, got.Blinded))
	wantStatus(t, r, http.StatusOK)
	if !strings.Contains(r.Body, `"blind_sig":"`+survey.EncodeB64(got.BlindSig)+`"`) {
		t.Errorf("retry answered %s, want the same signature", r.Body)
	}
	if ck := r.Header.Values("Set-Cookie"); len(ck) != 0 {
		t.Errorf("issue sets cookies: %q", ck)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("issue Cache-Control %q, want no-store", cc)
	}

	// The ballot goes from a client that has never seen the invitation link.
	anon := e.client()
	body := mustJSON(t, e.ballotFields(got.Token))
	r = anon.postJSON(ballotPath, body)
	if h := r.Request.Header.Get("Cookie"); h != "" {
		t.Fatalf("ballot request carried cookies: %q", h)
	}
	wantStatus(t, r, http.StatusCreated)
	var ok map[string]string
	if err := json.Unmarshal([]byte(r.Body), &ok); err != nil || len(ok) != 1 || ok["status"] != "accepted" {
		t.Errorf("ballot answer %s, want {\"status\":\"accepted\"}", r.Body)
	}
	if ck := r.Header.Values("Set-Cookie"); len(ck) != 0 {
		t.Errorf("ballot sets cookies: %q", ck)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("ballot Cache-Control %q, want no-store", cc)
	}
	if n := e.counts(); n != (surveyCounts{Box: 1, Spent: 1, Issued: 1}) {
		t.Fatalf("after the ballot: %+v", n)
	}

	// The same token again, as is and with the key id in upper case.
	for _, b := range []string{body, strings.Replace(body, got.Token.KeyID, strings.ToUpper(got.Token.KeyID), 1)} {
		r = anon.postJSON(ballotPath, b)
		wantAPIError(t, r, http.StatusConflict, "token_spent")
	}
	if n := e.counts(); n != (surveyCounts{Box: 1, Spent: 1, Issued: 1}) {
		t.Fatalf("after the replays: %+v", n)
	}

	// The ballot reaches the results at close, with its comment.
	if err := e.svc.Rounds.Close(e.ctx, e.round.ID); err != nil {
		t.Fatalf("close: %v", err)
	}
	var ballots, answers, comments int64
	e.db.Table("ballots").Count(&ballots)
	e.db.Table("answers").Count(&answers)
	e.db.Table("comments").Count(&comments)
	if ballots != 1 || answers != int64(len(e.questions)) || comments != 1 {
		t.Errorf("after close: %d ballots, %d answers, %d comments", ballots, answers, comments)
	}
	var unit uint
	e.db.Table("ballots").Select("unit_id").Scan(&unit)
	if unit != got.Page.Unit {
		t.Errorf("ballot unit %d, want %d", unit, got.Page.Unit)
	}
}

// One token per invitation and one ballot per token, also when the
// requests race.
func TestSurveyConcurrentIssueAndReplay(t *testing.T) {
	t.Parallel()
	e := newSurveyEnv(t)
	c := e.client()
	secret := e.links[2].Secret
	const n = 8
	bodies := make([]string, n)
	for i := range bodies {
		bodies[i] = issueJSON(secret, e.blindedFor(c, secret))
	}
	statuses := func(path string, bodies []string) map[int]int {
		var mu sync.Mutex
		var wg sync.WaitGroup
		out := map[int]int{}
		for _, b := range bodies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req := httptest.NewRequest(http.MethodPost, baseURL+path, strings.NewReader(b))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				e.e.ServeHTTP(rec, req)
				mu.Lock()
				out[rec.Code]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		return out
	}
	got := statuses(issuePath, bodies)
	if got[http.StatusOK] != 1 || got[http.StatusConflict] != n-1 {
		t.Errorf("concurrent issuance with different blinded messages: %v, want one 200 and %d 409", got, n-1)
	}
	if n := e.counts(); n.Issued != 1 {
		t.Errorf("%d invitations issued, want 1", n.Issued)
	}

	tok := e.obtain(c, e.links[7].Secret)
	ballot := mustJSON(t, e.ballotFields(tok.Token))
	same := make([]string, n)
	for i := range same {
		same[i] = ballot
	}
	got = statuses(ballotPath, same)
	if got[http.StatusCreated] != 1 || got[http.StatusConflict] != n-1 {
		t.Errorf("concurrent replays of one token: %v, want one 201 and %d 409", got, n-1)
	}
	if n := e.counts(); n.Box != 1 || n.Spent != 1 {
		t.Errorf("after concurrent replays: %+v", n)
	}
}

// --- 4. bad input --------------------------------------------------------------

// badCase is one bad request and the answer it must get.
type badCase struct {
	name        string
	contentType string // "" means application/json
	body        string
	status      int
	code        string
	field       string // a key that must be in error.fields
}

func (e *surveyEnv) checkBad(t *testing.T, c *client, path string, cases []badCase, unchanged func(t *testing.T)) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.counts()
			ct := tc.contentType
			if ct == "" {
				ct = "application/json"
			} else if ct == "-" {
				ct = ""
			}
			r := c.postBody(path, ct, tc.body)
			er := wantAPIError(t, r, tc.status, tc.code)
			if tc.field != "" {
				if _, ok := er.Error.Fields[tc.field]; !ok {
					t.Errorf("error fields %v do not name %q", er.Error.Fields, tc.field)
				}
			}
			if len(r.Body) > 2000 {
				t.Errorf("error body of %d bytes echoes the input", len(r.Body))
			}
			if after := e.counts(); after != before {
				t.Errorf("rows written: before %+v, after %+v", before, after)
			}
			if ck := r.Header.Values("Set-Cookie"); len(ck) != 0 {
				t.Errorf("sets cookies: %q", ck)
			}
			unchanged(t)
		})
	}
}

func TestSurveyIssueBadInput(t *testing.T) {
	t.Parallel()
	e := newSurveyEnv(t)
	c := e.client()
	secret := e.links[1].Secret
	blinded := e.blindedFor(c, secret)
	valid := issueJSON(secret, blinded)
	big := `{"secret":"` + secret + `","blinded_msg":"` + strings.Repeat("A", 64<<10) + `"}`
	cases := []badCase{
		{name: "malformed JSON", body: `{"secret":"` + secret + `","blinded_msg":`, status: 400, code: "bad_request"},
		{name: "not an object", body: `["` + secret + `"]`, status: 400, code: "bad_request"},
		{name: "empty body", body: "", status: 400, code: "bad_request"},
		{name: "trailing garbage", body: valid + " x", status: 400, code: "bad_request"},
		{name: "second object", body: valid + valid, status: 400, code: "bad_request"},
		{name: "text/plain", contentType: "text/plain", body: valid, status: 415, code: "unsupported_media_type"},
		{name: "form", contentType: "application/x-www-form-urlencoded",
			body: url.Values{"secret": {secret}, "blinded_msg": {survey.EncodeB64(blinded)}}.Encode(), status: 415, code: "unsupported_media_type"},
		{name: "no content type", contentType: "-", body: valid, status: 415, code: "unsupported_media_type"},
		{name: "unknown field", body: strings.TrimSuffix(valid, "}") + `,"person_id":1}`, status: 400, code: "bad_request"},
		{name: "wrong type", body: `{"secret":"` + secret + `","blinded_msg":12}`, status: 400, code: "bad_request"},
		{name: "over 64 KB", body: big, status: 413, code: "request_entity_too_large"},
		{name: "blinded not base64", body: `{"secret":"` + secret + `","blinded_msg":"!!not base64!!"}`, status: 422, code: "invalid", field: "blinded_msg"},
		{name: "blinded too short", body: issueJSON(secret, blinded[:255]), status: 422, code: "invalid", field: "blinded_msg"},
		{name: "blinded too long", body: issueJSON(secret, append(append([]byte{}, blinded...), 0)), status: 422, code: "invalid", field: "blinded_msg"},
		{name: "blinded empty", body: issueJSON(secret, nil), status: 422, code: "invalid", field: "blinded_msg"},
		{name: "blinded not below the modulus", body: issueJSON(secret, bytes.Repeat([]byte{0xff}, 256)), status: 422, code: "invalid", field: "blinded_msg"},
		{name: "no secret", body: issueJSON("", blinded), status: 422, code: "invalid"},
		{name: "unknown secret", body: issueJSON("NoSuchSecret0123456789", blinded), status: 404, code: "not_found"},
	}
	e.checkBad(t, c, issuePath, cases, func(t *testing.T) {
		if e.tokenIssued(secret) {
			t.Fatal("the invitation was marked token_issued")
		}
	})
	wantNotContains(t, e.log.String()+e.anon.String(), secret)

	// Positive control: the same secret and blinded message are fine.
	r := c.postBody(issuePath, "application/json; charset=utf-8", valid)
	wantStatus(t, r, http.StatusOK)
	if !e.tokenIssued(secret) {
		t.Error("valid issuance did not mark the invitation")
	}

	// A second, different blinded message for the same invitation.
	r = c.postJSON(issuePath, issueJSON(secret, e.blindedFor(c, secret)))
	wantAPIError(t, r, http.StatusConflict, "conflict")
	// And the first one still gets its signature back.
	wantStatus(t, c.postJSON(issuePath, valid), http.StatusOK)
}

func TestSurveyBallotBadInput(t *testing.T) {
	t.Parallel()
	e := newSurveyEnv(t)
	c := e.client()
	got := e.obtain(c, e.links[0].Secret)
	tok := got.Token
	// A token of the other unit, for mismatched key/message cases.
	var other issued
	for _, l := range e.links[1:] {
		if p := parseSurveyPage(t, c.get("/s/"+l.Secret).Body); p.Unit != got.Page.Unit {
			other = e.obtain(c, l.Secret)
			break
		}
	}
	if other.Token == nil {
		t.Fatal("no invitee in another unit")
	}
	q3 := e.questions[3].QuestionID
	qid := strconv.FormatUint(uint64(q3), 10)
	ballot := func(mod func(m map[string]any)) string {
		m := e.ballotFields(tok)
		if mod != nil {
			mod(m)
		}
		return mustJSON(t, m)
	}
	// sealed is a ballot whose sealed content is changed before sealing.
	sealed := func(mod func(a map[uint]int), comment string) string {
		a := e.answers()
		if mod != nil {
			mod(a)
		}
		return mustJSON(t, e.sealedFields(tok, a, comment))
	}
	// clearAnswers adds answers in clear, as before sealed ballots.
	clearAnswers := func(mod func(a map[string]any)) func(m map[string]any) {
		return func(m map[string]any) {
			a := map[string]any{}
			for q, v := range e.answers() {
				a[strconv.FormatUint(uint64(q), 10)] = v
			}
			mod(a)
			m["answers"] = a
		}
	}
	valid := ballot(nil)
	tampered := append([]byte{}, tok.Signature...)
	tampered[len(tampered)/2] ^= 0x01
	msg := append([]byte{}, tok.Message...)
	msg[len(msg)-1] ^= 0x01 // the nonce changes: the signature no longer verifies
	validSealed, _ := survey.DecodeB64(e.ballotFields(tok)["sealed"].(string))
	flipped := append([]byte{}, validSealed...)
	flipped[len(flipped)-20] ^= 0x01
	// Sealed with another token's message as associated data.
	foreign, err := survey.SealBallot(tok.BoxKey, e.round.ID, other.Token.Message, e.answers(), "")
	if err != nil {
		t.Fatal(err)
	}
	cases := []badCase{
		{name: "malformed JSON", body: valid[:len(valid)/2], status: 400, code: "bad_request"},
		{name: "empty body", body: "", status: 400, code: "bad_request"},
		{name: "trailing garbage", body: valid + "garbage", status: 400, code: "bad_request"},
		{name: "second object", body: valid + "\n" + valid, status: 400, code: "bad_request"},
		{name: "text/plain", contentType: "text/plain;charset=UTF-8", body: valid, status: 415, code: "unsupported_media_type"},
		{name: "form", contentType: "application/x-www-form-urlencoded", body: url.Values{"ballot": {valid}}.Encode(), status: 415, code: "unsupported_media_type"},
		{name: "unknown field", body: ballot(func(m map[string]any) { m["team"] = "Sales" }), status: 400, code: "bad_request"},
		{name: "over 64 KB", body: ballot(func(m map[string]any) { m["sealed"] = strings.Repeat("a", 65<<10) }), status: 413, code: "request_entity_too_large"},
		{name: "unknown key id", body: ballot(func(m map[string]any) { m["key_id"] = strings.Repeat("0", 64) }), status: 422, code: "invalid", field: "key_id"},
		{name: "no key id", body: ballot(func(m map[string]any) { delete(m, "key_id") }), status: 422, code: "invalid", field: "key_id"},
		{name: "message not base64", body: ballot(func(m map[string]any) { m["message"] = "***" }), status: 422, code: "invalid", field: "token"},
		{name: "signature not base64", body: ballot(func(m map[string]any) { m["signature"] = "a b c" }), status: 422, code: "invalid", field: "token"},
		{name: "tampered signature", body: ballot(func(m map[string]any) { m["signature"] = survey.EncodeB64(tampered) }), status: 422, code: "invalid", field: "signature"},
		{name: "tampered message", body: ballot(func(m map[string]any) { m["message"] = survey.EncodeB64(msg) }), status: 422, code: "invalid"},
		{name: "message of another unit", body: ballot(func(m map[string]any) {
			m["message"], m["signature"] = survey.EncodeB64(other.Token.Message), survey.EncodeB64(other.Token.Signature)
		}), status: 422, code: "invalid", field: "message"},
		{name: "signature of another key", body: ballot(func(m map[string]any) { m["signature"] = survey.EncodeB64(other.Token.Signature) }),
			status: 422, code: "invalid", field: "signature"},
		// The sealed ballot itself.
		{name: "sealed not base64", body: ballot(func(m map[string]any) { m["sealed"] = "a b c" }), status: 422, code: "invalid", field: "sealed"},
		{name: "nothing sealed", body: ballot(func(m map[string]any) { delete(m, "sealed") }), status: 422, code: "invalid", field: "sealed"},
		{name: "tampered sealed ballot", body: ballot(func(m map[string]any) { m["sealed"] = survey.EncodeB64(flipped) }), status: 422, code: "invalid", field: "sealed"},
		{name: "truncated sealed ballot", body: ballot(func(m map[string]any) { m["sealed"] = survey.EncodeB64(validSealed[:len(validSealed)-1]) }), status: 422, code: "invalid", field: "sealed"},
		{name: "sealed for another token", body: ballot(func(m map[string]any) { m["sealed"] = survey.EncodeB64(foreign) }), status: 422, code: "invalid", field: "sealed"},
		{name: "answers in clear", body: ballot(clearAnswers(func(map[string]any) {})), status: 422, code: "invalid", field: "sealed"},
		{name: "comment in clear", body: ballot(func(m map[string]any) { m["comment"] = "hello" }), status: 422, code: "invalid", field: "sealed"},
		{name: "answer null in clear", body: ballot(clearAnswers(func(a map[string]any) { a[qid] = nil })), status: 422, code: "invalid", field: "sealed"},
		{name: "non-numeric question", body: ballot(clearAnswers(func(a map[string]any) { a["q1"] = 3 })), status: 422, code: "invalid", field: "answers"},
		{name: "negative question", body: ballot(clearAnswers(func(a map[string]any) { a["-1"] = 3 })), status: 422, code: "invalid", field: "answers"},
		{name: "answer as string", body: ballot(clearAnswers(func(a map[string]any) { a[qid] = "3" })), status: 400, code: "bad_request"},
		{name: "answer as fraction", body: ballot(clearAnswers(func(a map[string]any) { a[qid] = 3.5 })), status: 400, code: "bad_request"},
		// What the sealed ballot says is validated once opened.
		{name: "missing item", body: sealed(func(a map[uint]int) { delete(a, q3) }, ""), status: 422, code: "invalid", field: "answers." + qid},
		{name: "no answers", body: sealed(func(a map[uint]int) { clear(a) }, ""), status: 422, code: "invalid", field: "answers." + qid},
		{name: "answer 0", body: sealed(func(a map[uint]int) { a[q3] = 0 }, ""), status: 422, code: "invalid", field: "answers." + qid},
		{name: "answer 6", body: sealed(func(a map[uint]int) { a[q3] = 6 }, ""), status: 422, code: "invalid", field: "answers." + qid},
		{name: "answer 255", body: sealed(func(a map[uint]int) { a[q3] = 255 }, ""), status: 422, code: "invalid", field: "answers." + qid},
		{name: "unknown question", body: sealed(func(a map[uint]int) { a[999999] = 3 }, ""), status: 422, code: "invalid", field: "answers.999999"},
		{name: "question 0", body: sealed(func(a map[uint]int) { a[0] = 3 }, ""), status: 422, code: "invalid", field: "answers.0"},
		{name: "comment 2001 chars", body: sealed(nil, strings.Repeat("x", 2001)), status: 422, code: "invalid", field: "comment"},
		{name: "comment 2001 runes", body: sealed(nil, strings.Repeat("é", 2001)), status: 422, code: "invalid", field: "comment"},
		{name: "comment not UTF-8", body: sealed(nil, "ok \xff"), status: 422, code: "invalid", field: "comment"},
	}
	e.checkBad(t, c, ballotPath, cases, func(t *testing.T) {})

	// Positive control: the token was never spent. The longest comment
	// allowed, in multi-byte letters, goes through and survives close.
	if n := e.counts(); n.Spent != 0 || n.Box != 0 {
		t.Fatalf("after the bad ballots: %+v", n)
	}
	long := strings.Repeat("é", survey.MaxCommentRunes)
	r := c.postJSON(ballotPath, sealed(nil, "  "+long+"\n"))
	wantStatus(t, r, http.StatusCreated)
	if err := e.svc.Rounds.Close(e.ctx, e.round.ID); err != nil {
		t.Fatalf("close: %v", err)
	}
	var text string
	e.db.Table("comments").Select("text").Scan(&text)
	if text != long {
		t.Errorf("stored comment of %d bytes, want the %d-rune comment trimmed", len(text), survey.MaxCommentRunes)
	}
}

// A JSON object followed by anything else is not one JSON object
// (decodeStrict promises "nothing after it").
func TestSurveyTrailingDataIsRejected(t *testing.T) {
	t.Parallel()
	e := newSurveyEnv(t)
	c := e.client()
	suffixes := []string{"}", "]", " ]", "x", "{}"}
	for i, suffix := range suffixes {
		t.Run("issue "+suffix, func(t *testing.T) {
			secret := e.links[i].Secret
			before := e.counts()
			r := c.postJSON(issuePath, issueJSON(secret, e.blindedFor(c, secret))+suffix)
			wantAPIError(t, r, http.StatusBadRequest, "bad_request")
			if after := e.counts(); after != before || e.tokenIssued(secret) {
				t.Errorf("issued a token for a request with trailing %q", suffix)
			}
		})
	}
	for i, suffix := range suffixes {
		t.Run("ballot "+suffix, func(t *testing.T) {
			tok := e.obtain(c, e.links[len(suffixes)+i].Secret)
			before := e.counts()
			r := c.postJSON(ballotPath, mustJSON(t, e.ballotFields(tok.Token))+suffix)
			wantAPIError(t, r, http.StatusBadRequest, "bad_request")
			if after := e.counts(); after != before {
				t.Errorf("accepted a ballot with trailing %q: %+v -> %+v", suffix, before, after)
			}
		})
	}
}

// gone checks that issuance and ballots are refused with 410 and write
// nothing; prepare runs after the tokens were obtained.
func checkSurveyGone(t *testing.T, e *surveyEnv, prepare func()) {
	t.Helper()
	c := e.client()
	tok := e.obtain(c, e.links[0].Secret)
	fresh := e.links[1].Secret
	freshBlinded := e.blindedFor(c, fresh)
	ballot := mustJSON(t, e.ballotFields(tok.Token))
	prepare()
	before := e.counts()

	r := c.postJSON(issuePath, issueJSON(fresh, freshBlinded))
	wantAPIError(t, r, http.StatusGone, "round_closed")
	r = c.postJSON(issuePath, issueJSON(e.links[0].Secret, tok.Blinded))
	wantAPIError(t, r, http.StatusGone, "round_closed")
	r = c.postJSON(ballotPath, ballot)
	wantAPIError(t, r, http.StatusGone, "round_closed")
	if after := e.counts(); after != before {
		t.Errorf("rows written after the round ended: %+v -> %+v", before, after)
	}
	if e.tokenIssued(fresh) {
		t.Error("a token was issued after the round ended")
	}
}

func TestSurveyGoneAfterClosesAt(t *testing.T) {
	t.Parallel()
	for _, d := range []time.Duration{0, time.Second, 30 * 24 * time.Hour} {
		t.Run(d.String(), func(t *testing.T) {
			e := newSurveyEnv(t)
			checkSurveyGone(t, e, func() { e.clock.Advance(e.round.ClosesAt.Sub(e.clock.Now()) + d) })
		})
	}
	// One second before ClosesAt still works.
	e := newSurveyEnv(t)
	c := e.client()
	e.clock.Advance(e.round.ClosesAt.Sub(e.clock.Now()) - time.Second)
	tok := e.obtain(c, e.links[0].Secret)
	wantStatus(t, c.postJSON(ballotPath, mustJSON(t, e.ballotFields(tok.Token))), http.StatusCreated)
}

func TestSurveyGoneAfterClose(t *testing.T) {
	t.Parallel()
	e := newSurveyEnv(t)
	checkSurveyGone(t, e, func() {
		if err := e.svc.Rounds.Close(e.ctx, e.round.ID); err != nil {
			t.Fatalf("close: %v", err)
		}
	})
}

// --- 5. logging ----------------------------------------------------------------

func TestSurveyFlowLogsAnonymously(t *testing.T) {
	t.Parallel()
	const (
		remoteIP = "203.0.113.9"
		xffIP    = "198.51.100.23"
		agent    = "SurveyAgent/4.2 (PersonalLaptop-Jane)"
	)
	for _, trust := range []bool{false, true} {
		t.Run(fmt.Sprintf("TrustProxy=%v", trust), func(t *testing.T) {
			e := newSurveyEnv(t, func(d *api.Deps) { d.TrustProxy = trust })
			c := e.client()
			c.remote = remoteIP + ":5555"
			c.header.Set("X-Forwarded-For", xffIP)
			c.header.Set("User-Agent", agent)
			secret := e.links[4].Secret

			got := e.obtain(c, secret) // page, manifest, issue
			body := mustJSON(t, e.ballotFields(got.Token))
			wantStatus(t, c.postJSON(ballotPath, body), http.StatusCreated)
			wantStatus(t, c.postJSON(ballotPath, body), http.StatusConflict)
			wantStatus(t, c.get("/s/"+secret), http.StatusOK)
			wantStatus(t, c.get("/s/"+secret+"zz"), http.StatusNotFound)
			wantStatus(t, c.postJSON(issuePath, `{"secret":"`+secret+`"`), http.StatusBadRequest)
			wantStatus(t, c.postJSON(issuePath, issueJSON(secret, e.blindedFor(c, secret))), http.StatusConflict)

			if s := e.log.String(); s != "" {
				t.Errorf("survey requests reached the main logger:\n%s", s)
			}
			raw := e.anon.String()
			secrets := []string{secret, got.Page.KeyID, got.Page.ManifestHash, remoteIP, xffIP, agent, "SurveyAgent",
				survey.EncodeB64(got.Blinded), survey.EncodeB64(got.Token.Signature), survey.EncodeB64(got.Token.Message),
				"Good pace", e.links[4].Email}
			for _, s := range secrets {
				if strings.Contains(raw, s) {
					t.Errorf("anonymous log contains %q:\n%s", s, raw)
				}
			}
			routes := map[string]int{}
			for _, l := range e.anon.Lines(t) {
				for k := range l {
					switch k {
					case "msg", "level", "method", "route", "status":
					default:
						t.Errorf("anonymous log line has key %q: %v", k, l)
					}
				}
				if route, _ := l["route"].(string); route != "" {
					routes[l["method"].(string)+" "+route]++
				}
			}
			for _, want := range []string{"GET /s/:secret", "GET /api/v1/survey/rounds/:round/manifest",
				"POST /api/v1/survey/issue", "POST /api/v1/survey/ballots"} {
				if routes[want] == 0 {
					t.Errorf("no log line for %s; got %v", want, routes)
				}
			}
		})
	}
}

// TestSurveyPageWeight: the survey page with everything it loads (stylesheet, icon, scripts
// and the modules they import) stays under 60 KB gzipped, so it opens quickly on a phone.
func TestSurveyPageWeight(t *testing.T) {
	t.Parallel()
	e := newSurveyEnv(t)
	c := e.client()
	page := "/s/" + e.links[0].Secret
	refRE := regexp.MustCompile(`(?:src|href)="(/static/[^"?]+)(?:\?[^"]*)?"`)
	importRE := regexp.MustCompile(`(?:\bfrom|\bimport)\s*"([^"]+)"`)
	seen := map[string]bool{}
	total := 0
	var files []string
	var load func(path string)
	load = func(path string) {
		if seen[path] {
			return
		}
		seen[path] = true
		r := c.get(path)
		wantStatus(t, r, http.StatusOK)
		var gz bytes.Buffer
		w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		w.Write([]byte(r.Body))
		w.Close()
		total += gz.Len()
		files = append(files, fmt.Sprintf("%s %d", path, gz.Len()))
		if path == page {
			for _, m := range refRE.FindAllStringSubmatch(r.Body, -1) {
				load(m[1])
			}
		}
		if strings.HasSuffix(path, ".js") || strings.HasSuffix(path, ".mjs") {
			for _, m := range importRE.FindAllStringSubmatch(r.Body, -1) {
				u, err := url.Parse(path)
				if err != nil {
					t.Fatal(err)
				}
				ref, err := u.Parse(m[1])
				if err != nil || !strings.HasPrefix(ref.Path, "/static/") {
					t.Fatalf("%s imports %q", path, m[1])
				}
				load(ref.Path)
			}
		}
	}
	load(page)
	for _, want := range []string{"/static/js/survey.js", "/static/js/seal.js", "/static/vendor/hpke/hpke.mjs", "/static/vendor/blindrsa/blindrsa.mjs"} {
		if !seen[want] {
			t.Errorf("%s was not found among what the page loads: %v", want, files)
		}
	}
	t.Logf("survey page and what it loads, gzipped: %d bytes (%s)", total, strings.Join(files, ", "))
	if total >= 60<<10 {
		t.Errorf("the survey page weighs %d bytes gzipped, want under %d", total, 60<<10)
	}
}
