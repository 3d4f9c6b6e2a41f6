package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"gopkg.in/yaml.v3"

	"github.com/pulse-survey/pulse/api"
)

// openAPIMethods are the operation keys of an OpenAPI path item.
var openAPIMethods = map[string]bool{"get": true, "put": true, "post": true, "delete": true, "patch": true,
	"head": true, "options": true, "trace": true}

var echoParam = regexp.MustCompile(`:([A-Za-z0-9_]+)`)

// routedOperations lists the (METHOD path) pairs echo serves under /api/v1,
// with :param written {param}. Echo's catch-all not-found routes of groups
// and HEAD/OPTIONS variants are not operations.
func routedOperations(e *echo.Echo) map[string]bool {
	out := map[string]bool{}
	for _, r := range e.Routes() {
		if r.Path != "/api/v1" && !strings.HasPrefix(r.Path, "/api/v1/") {
			continue
		}
		switch r.Method {
		case echo.RouteNotFound, http.MethodHead, http.MethodOptions:
			continue
		}
		if strings.HasSuffix(r.Path, "/*") || r.Path == "/api/v1" {
			continue
		}
		out[r.Method+" "+echoParam.ReplaceAllString(r.Path, "{$1}")] = true
	}
	return out
}

type openAPIDoc struct {
	OpenAPI    string                               `yaml:"openapi"`
	Paths      map[string]map[string]yaml.Node      `yaml:"paths"`
	Components map[string]map[string]map[string]any `yaml:"components"`
}

func loadOpenAPI(t *testing.T) (openAPIDoc, any) {
	t.Helper()
	var doc openAPIDoc
	if err := yaml.Unmarshal(api.OpenAPIDocument(), &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	var raw any
	if err := yaml.Unmarshal(api.OpenAPIDocument(), &raw); err != nil {
		t.Fatal(err)
	}
	return doc, raw
}

// TestOpenAPIDocumentsEveryRoute: every /api/v1 route is documented, and
// every documented operation is a real route.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	h := newHarness(t)
	doc, _ := loadOpenAPI(t)
	if !strings.HasPrefix(doc.OpenAPI, "3.0") {
		t.Errorf("openapi %q, want 3.0.x", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths {
		for key := range item {
			if openAPIMethods[key] {
				documented[strings.ToUpper(key)+" "+path] = true
			}
		}
	}
	routed := routedOperations(h.e)
	if len(routed) < 5 {
		t.Fatalf("only %d routes under /api/v1: %v", len(routed), routed)
	}
	var undocumented, missing []string
	for op := range routed {
		if !documented[op] {
			undocumented = append(undocumented, op)
		}
	}
	for op := range documented {
		if !routed[op] {
			missing = append(missing, op)
		}
	}
	sort.Strings(undocumented)
	sort.Strings(missing)
	if len(undocumented) > 0 {
		t.Errorf("%d routes are not in api/openapi.yaml:\n  %s", len(undocumented), strings.Join(undocumented, "\n  "))
	}
	if len(missing) > 0 {
		t.Errorf("%d operations of api/openapi.yaml have no route:\n  %s", len(missing), strings.Join(missing, "\n  "))
	}
}

// TestOpenAPIDocumentIsConsistent: path parameters are declared, every
// operation has a success response, and every $ref resolves.
func TestOpenAPIDocumentIsConsistent(t *testing.T) {
	doc, raw := loadOpenAPI(t)
	braces := regexp.MustCompile(`\{([^}]+)\}`)
	params := doc.Components["parameters"]
	for path, item := range doc.Paths {
		for method, node := range item {
			if !openAPIMethods[method] {
				continue
			}
			var op struct {
				OperationID string                    `yaml:"operationId"`
				Parameters  []map[string]any          `yaml:"parameters"`
				Responses   map[string]map[string]any `yaml:"responses"`
			}
			if err := node.Decode(&op); err != nil {
				t.Errorf("%s %s: %v", method, path, err)
				continue
			}
			where := strings.ToUpper(method) + " " + path
			if op.OperationID == "" {
				t.Errorf("%s: no operationId", where)
			}
			declared := map[string]bool{}
			for _, p := range op.Parameters {
				if ref, ok := p["$ref"].(string); ok {
					p = params[strings.TrimPrefix(ref, "#/components/parameters/")]
				}
				if p["in"] == "path" {
					declared[fmt.Sprint(p["name"])] = true
					if p["required"] != true {
						t.Errorf("%s: path parameter %v is not required", where, p["name"])
					}
				}
			}
			for _, m := range braces.FindAllStringSubmatch(path, -1) {
				if !declared[m[1]] {
					t.Errorf("%s: path parameter {%s} is not declared", where, m[1])
				}
			}
			ok := false
			for code, resp := range op.Responses {
				if strings.HasPrefix(code, "2") {
					ok = true
				}
				if _, isRef := resp["$ref"]; !isRef && resp["description"] == nil {
					t.Errorf("%s: response %s has no description", where, code)
				}
			}
			if !ok {
				t.Errorf("%s: no 2xx response", where)
			}
		}
	}

	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, val := range x {
				if val == nil {
					// e.g. "{description: a, b}" reads as a key "b" with no value.
					t.Errorf("key %q has no value (an unquoted comma in a flow mapping?)", k)
				}
				if k == "$ref" {
					ref, _ := val.(string)
					if !resolves(raw, ref) {
						t.Errorf("$ref %q does not resolve", ref)
					}
					continue
				}
				walk(val)
			}
		case []any:
			for _, val := range x {
				walk(val)
			}
		}
	}
	walk(raw)
	if _, ok := doc.Components["schemas"]["Error"]; !ok {
		t.Error("no Error schema")
	}
	for _, s := range []string{"sessionCookie", "bearerToken"} {
		if _, ok := doc.Components["securitySchemes"][s]; !ok {
			t.Errorf("no security scheme %s", s)
		}
	}
}

func resolves(doc any, ref string) bool {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return false
	}
	cur := doc
	for _, part := range strings.Split(rest, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")]; !ok {
			return false
		}
	}
	return true
}

func TestOpenAPIServed(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	r := c.get("/api/v1/openapi.yaml")
	wantStatus(t, r, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/yaml") {
		t.Errorf("Content-Type %q", ct)
	}
	if !bytes.Equal([]byte(r.Body), api.OpenAPIDocument()) {
		t.Error("served document differs from the embedded one")
	}
	if c.cookie("pulse_csrf") != nil || len(r.Cookies()) > 0 {
		t.Error("the public document sets cookies")
	}
	// Even a bad token does not stand in the way of the public document.
	r = c.get("/api/v1/openapi.yaml", "Authorization", "Bearer pls_nope")
	wantStatus(t, r, http.StatusOK)
}

// schemaProblems checks a decoded JSON value against an OpenAPI schema of
// the document: types, required and nullable fields, enums, and no field
// the schema does not describe.
func schemaProblems(doc any, schema map[string]any, v any, at string) []string {
	if ref, ok := schema["$ref"].(string); ok {
		cur := doc
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			cur = cur.(map[string]any)[part]
		}
		return schemaProblems(doc, cur.(map[string]any), v, at)
	}
	if v == nil {
		if schema["nullable"] == true {
			return nil
		}
		return []string{at + ": null, but not nullable"}
	}
	var out []string
	bad := func(want string) []string { return []string{fmt.Sprintf("%s: %T, want %s", at, v, want)} }
	switch schema["type"] {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return bad("object")
		}
		props, _ := schema["properties"].(map[string]any)
		for _, r := range asList(schema["required"]) {
			if _, ok := m[fmt.Sprint(r)]; !ok {
				out = append(out, fmt.Sprintf("%s: required field %v missing", at, r))
			}
		}
		for k, val := range m {
			if p, ok := props[k].(map[string]any); ok {
				out = append(out, schemaProblems(doc, p, val, at+"."+k)...)
			} else if ap, ok := schema["additionalProperties"].(map[string]any); ok {
				out = append(out, schemaProblems(doc, ap, val, at+"."+k)...)
			} else {
				out = append(out, fmt.Sprintf("%s: field %q is not documented", at, k))
			}
		}
	case "array":
		l, ok := v.([]any)
		if !ok {
			return bad("array")
		}
		items, _ := schema["items"].(map[string]any)
		for i, val := range l {
			out = append(out, schemaProblems(doc, items, val, fmt.Sprintf("%s[%d]", at, i))...)
		}
	case "string":
		s, ok := v.(string)
		if !ok {
			return bad("string")
		}
		if enum := asList(schema["enum"]); len(enum) > 0 {
			found := false
			for _, e := range enum {
				found = found || fmt.Sprint(e) == s
			}
			if !found {
				out = append(out, fmt.Sprintf("%s: %q not in %v", at, s, enum))
			}
		}
	case "integer":
		if f, ok := v.(float64); !ok || f != float64(int64(f)) {
			return bad("integer")
		}
	case "number":
		if _, ok := v.(float64); !ok {
			return bad("number")
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return bad("boolean")
		}
	}
	return out
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// wantDocumented checks a response's status and JSON body against the
// document's response of that operation.
func wantDocumented(t *testing.T, raw any, method, path string, r *response) {
	t.Helper()
	op, ok := raw.(map[string]any)["paths"].(map[string]any)[path].(map[string]any)[strings.ToLower(method)].(map[string]any)
	if !ok {
		t.Fatalf("%s %s is not documented", method, path)
	}
	resp, ok := op["responses"].(map[string]any)[strconv.Itoa(r.StatusCode)].(map[string]any)
	if !ok {
		t.Errorf("%s %s: status %d is not documented; body %s", method, path, r.StatusCode, r.Body)
		return
	}
	if ref, ok := resp["$ref"].(string); ok {
		resp = raw.(map[string]any)["components"].(map[string]any)["responses"].(map[string]any)[strings.TrimPrefix(ref, "#/components/responses/")].(map[string]any)
	}
	content, _ := resp["content"].(map[string]any)
	media, ok := content["application/json"].(map[string]any)
	if !ok {
		return
	}
	var body any
	if err := json.Unmarshal([]byte(r.Body), &body); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	for _, p := range schemaProblems(raw, media["schema"].(map[string]any), body, "body") {
		t.Errorf("%s %s %d: %s", method, path, r.StatusCode, p)
	}
}

// TestOpenAPIResponsesMatch: real responses of the routes have the
// documented statuses and shapes (every field documented, required ones
// present).
func TestOpenAPIResponsesMatch(t *testing.T) {
	o := newRepOrg(t)
	h := o.h
	_, raw := loadOpenAPI(t)
	admin, leader, anon := o.admin, o.leader, o.anon
	admin.get("/admin")
	leader.get("/help/statistics")
	unit := func(id uint) string { return fmt.Sprintf("/api/v1/reports/units/%d", id) }
	type call struct {
		c            *client
		method, path string // path as routed
		doc          string // path as documented
		body         string
		status       int
	}
	r := admin.tokSend(http.MethodPost, "/api/v1/admin/tokens", fmt.Sprintf(`{"name":"bot","role":"leader","team_ids":[%d],"expires_at":"2040-01-01T00:00:00Z"}`, o.eng), true)
	wantDocumented(t, raw, http.MethodPost, "/api/v1/admin/tokens", r)
	var created tokenCreatedResp
	repDecodeStatus(t, r, &created)
	bot := h.bearer(created.Token)
	for _, cl := range []call{
		{admin, "GET", "/api/v1/me", "/api/v1/me", "", 200},
		{bot, "GET", "/api/v1/me", "/api/v1/me", "", 200},
		{anon, "GET", "/api/v1/me", "/api/v1/me", "", 401},
		{leader, "GET", "/api/v1/org/teams", "/api/v1/org/teams", "", 200},
		{admin, "GET", "/api/v1/reports/units", "/api/v1/reports/units", "", 200},
		{admin, "GET", unit(o.root), "/api/v1/reports/units/{unit}", "", 200},
		{admin, "GET", unit(o.sales), "/api/v1/reports/units/{unit}", "", 200},
		{bot, "GET", unit(o.eng), "/api/v1/reports/units/{unit}", "", 200},
		{bot, "GET", unit(o.sales), "/api/v1/reports/units/{unit}", "", 403},
		{admin, "GET", "/api/v1/reports/units/x", "/api/v1/reports/units/{unit}", "", 404},
		{admin, "GET", "/api/v1/admin/audit?limit=2", "/api/v1/admin/audit", "", 200},
		{admin, "GET", "/api/v1/admin/audit?limit=0", "/api/v1/admin/audit", "", 422},
		{leader, "GET", "/api/v1/admin/audit", "/api/v1/admin/audit", "", 403},
		{admin, "GET", "/api/v1/admin/tokens", "/api/v1/admin/tokens", "", 200},
		{bot, "GET", "/api/v1/admin/tokens", "/api/v1/admin/tokens", "", 403},
		{admin, "POST", "/api/v1/admin/tokens", "/api/v1/admin/tokens", `{"name":""}`, 422},
		{admin, "POST", "/api/v1/admin/tokens", "/api/v1/admin/tokens", `{"nom":""}`, 400},
		{admin, "DELETE", fmt.Sprintf("/api/v1/admin/tokens/%d", created.APIToken.ID), "/api/v1/admin/tokens/{id}", "", 200},
		{admin, "DELETE", "/api/v1/admin/tokens/999", "/api/v1/admin/tokens/{id}", "", 404},
		{bot, "GET", "/api/v1/me", "/api/v1/me", "", 401},
		// The admin API of the org and program management.
		{admin, "GET", "/api/v1/admin/teams", "/api/v1/admin/teams", "", 200},
		{admin, "GET", "/api/v1/admin/people?per_page=3", "/api/v1/admin/people", "", 200},
		{admin, "GET", "/api/v1/admin/leaders", "/api/v1/admin/leaders", "", 200},
		{admin, "GET", "/api/v1/admin/questions", "/api/v1/admin/questions", "", 200},
		{admin, "GET", "/api/v1/admin/programs", "/api/v1/admin/programs", "", 200},
		{admin, "GET", fmt.Sprintf("/api/v1/admin/programs/%d", o.prog.ID), "/api/v1/admin/programs/{program}", "", 200},
		{admin, "GET", fmt.Sprintf("/api/v1/admin/programs/%d/preview", o.prog.ID), "/api/v1/admin/programs/{program}/preview", "", 200},
		{admin, "GET", "/api/v1/admin/rounds", "/api/v1/admin/rounds", "", 200},
		{admin, "DELETE", "/api/v1/admin/programs/999999", "/api/v1/admin/programs/{program}", "", 404},
		{anon, "GET", "/api/v1/survey/rounds/999/manifest", "/api/v1/survey/rounds/{round}/manifest", "", 404},
		{anon, "POST", "/api/v1/survey/issue", "/api/v1/survey/issue", `{"secret":"x","blinded_msg":"AA"}`, 422},
		{anon, "POST", "/api/v1/survey/ballots", "/api/v1/survey/ballots", `{"x":1}`, 400},
	} {
		r := cl.c.tokSend(cl.method, cl.path, cl.body, cl.method != "GET")
		if r.StatusCode != cl.status {
			t.Errorf("%s %s: status %d, want %d; body %s", cl.method, cl.path, r.StatusCode, cl.status, r.Body)
			continue
		}
		wantDocumented(t, raw, cl.method, cl.doc, r)
	}
}
