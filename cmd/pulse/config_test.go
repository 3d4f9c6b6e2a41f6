package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// envOf returns a getenv reading only m: tests never see the host's PULSE_*.
func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// with returns a copy of base with the pairs k1, v1, k2, v2, ... set.
func with(base map[string]string, kv ...string) map[string]string {
	out := make(map[string]string, len(base)+len(kv)/2)
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// result is what one call of run produced.
type result struct {
	code           int
	stdout, stderr string
}

// runPulse calls run with a fresh context and buffers; a panic is reported
// as a test failure with code -1 so that the other cases still run.
func runPulse(t *testing.T, env map[string]string, args ...string) (r result) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return runPulseCtx(t, ctx, env, args...)
}

func runPulseCtx(t *testing.T, ctx context.Context, env map[string]string, args ...string) (r result) {
	t.Helper()
	var stdout, stderr syncBuffer
	defer func() {
		if p := recover(); p != nil {
			t.Errorf("run(%q) panicked: %v", args, p)
			r = result{code: -1, stdout: stdout.String(), stderr: stderr.String()}
		}
	}()
	code := run(ctx, args, envOf(env), &stdout, &stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// checkOneLine fails unless s is exactly one line starting with "pulse: ".
func checkOneLine(t *testing.T, what, s string) {
	t.Helper()
	if !strings.HasPrefix(s, "pulse: ") || !strings.HasSuffix(s, "\n") || strings.Count(s, "\n") != 1 {
		t.Errorf("%s: stderr must be exactly one line starting with %q, got %d line(s):\n%s",
			what, "pulse: ", strings.Count(s, "\n"), s)
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// mustLoad calls loadConfig and fails the test on an error.
func mustLoad(t *testing.T, name string, args []string, env map[string]string) *Config {
	t.Helper()
	var out bytes.Buffer
	cfg, rest, err := loadConfig(name, args, envOf(env), &out)
	if err != nil {
		t.Fatalf("loadConfig(%q, %q, %v): %v\noutput: %s", name, args, env, err, out.String())
	}
	if len(rest) > 0 {
		t.Fatalf("loadConfig(%q, %q): unexpected rest %q", name, args, rest)
	}
	return cfg
}

func TestConfigDefaults(t *testing.T) {
	cfg := mustLoad(t, "serve", nil, nil)
	want := Config{
		Addr:          "127.0.0.1:8080",
		BaseURL:       "http://127.0.0.1:8080",
		DataDir:       "data",
		LogFormat:     "text",
		LogLevel:      "info",
		SessionTTL:    12 * time.Hour,
		ShutdownGrace: 20 * time.Second,
	}
	if *cfg != want {
		t.Errorf("defaults:\n got %+v\nwant %+v", *cfg, want)
	}
	if got, want := cfg.SQLitePath(), filepath.Join("data", "pulse.db"); got != want {
		t.Errorf("SQLitePath() = %q, want %q", got, want)
	}
	if o := cfg.DBOptions(); o.URL != "" || o.SQLitePath != filepath.Join("data", "pulse.db") {
		t.Errorf("DBOptions() = %+v, want SQLite at data/pulse.db", o)
	}
}

func TestConfigEnvOverridesDefaults(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{
		"PULSE_ADDR":           "0.0.0.0:9090",
		"PULSE_BASE_URL":       "https://pulse.example.com",
		"PULSE_DATA_DIR":       dir,
		"PULSE_DATABASE_URL":   "postgres://u:p@db:5432/pulse?sslmode=disable",
		"PULSE_LOG_FORMAT":     "json",
		"PULSE_LOG_LEVEL":      "warn",
		"PULSE_TRUST_PROXY":    "true",
		"PULSE_SESSION_TTL":    "90m",
		"PULSE_SHUTDOWN_GRACE": "45s",
		"PULSE_DEMO":           "1",
	}
	cfg := mustLoad(t, "serve", nil, env)
	want := Config{
		Addr:          "0.0.0.0:9090",
		BaseURL:       "https://pulse.example.com",
		DataDir:       dir,
		DatabaseURL:   "postgres://u:p@db:5432/pulse?sslmode=disable",
		LogFormat:     "json",
		LogLevel:      "warn",
		TrustProxy:    true,
		SessionTTL:    90 * time.Minute,
		ShutdownGrace: 45 * time.Second,
		Demo:          true,
	}
	if *cfg != want {
		t.Errorf("from the environment:\n got %+v\nwant %+v", *cfg, want)
	}
	if got, want := cfg.SQLitePath(), filepath.Join(dir, "demo.db"); got != want {
		t.Errorf("demo SQLitePath() = %q, want %q", got, want)
	}
}

func TestConfigFlagsOverrideEnv(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		args  []string
		check func(*Config) (got, want any)
	}{
		{"log level", map[string]string{"PULSE_LOG_LEVEL": "warn"}, []string{"--log-level=debug"},
			func(c *Config) (any, any) { return c.LogLevel, "debug" }},
		{"log level, separate value", map[string]string{"PULSE_LOG_LEVEL": "warn"}, []string{"-log-level", "debug"},
			func(c *Config) (any, any) { return c.LogLevel, "debug" }},
		{"invalid env value replaced by a valid flag", map[string]string{"PULSE_LOG_LEVEL": "loud"}, []string{"--log-level=error"},
			func(c *Config) (any, any) { return c.LogLevel, "error" }},
		{"invalid env duration replaced by a valid flag", map[string]string{"PULSE_SESSION_TTL": "forever"}, []string{"--session-ttl=2h"},
			func(c *Config) (any, any) { return c.SessionTTL, 2 * time.Hour }},
		{"addr", map[string]string{"PULSE_ADDR": "127.0.0.1:1111"}, []string{"--addr", "127.0.0.1:2222"},
			func(c *Config) (any, any) { return c.Addr, "127.0.0.1:2222" }},
		{"derived base URL follows the flag addr", map[string]string{"PULSE_ADDR": "127.0.0.1:1111"}, []string{"--addr", "127.0.0.1:2222"},
			func(c *Config) (any, any) { return c.BaseURL, "http://127.0.0.1:2222" }},
		{"session ttl", map[string]string{"PULSE_SESSION_TTL": "1h"}, []string{"--session-ttl=2h"},
			func(c *Config) (any, any) { return c.SessionTTL, 2 * time.Hour }},
		{"trust proxy off", map[string]string{"PULSE_TRUST_PROXY": "true"}, []string{"--trust-proxy=false"},
			func(c *Config) (any, any) { return c.TrustProxy, false }},
		{"demo off", map[string]string{"PULSE_DEMO": "true"}, []string{"--demo=false"},
			func(c *Config) (any, any) { return c.Demo, false }},
		{"database URL over the _FILE", map[string]string{"PULSE_DATABASE_URL_FILE": "/nonexistent/but/unread"},
			[]string{"--database-url", "postgres://flag@h/db"},
			func(c *Config) (any, any) { return c.DatabaseURL, "postgres://flag@h/db" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			cfg, _, err := loadConfig("serve", tt.args, envOf(tt.env), &out)
			if err != nil {
				// A flag must win even when the env value it replaces is unusable.
				t.Fatalf("loadConfig(env %v, args %q): %v", tt.env, tt.args, err)
			}
			if got, want := tt.check(cfg); got != want {
				t.Errorf("env %v, args %q: got %v, want %v", tt.env, tt.args, got, want)
			}
		})
	}
}

func TestConfigDatabaseURLFile(t *testing.T) {
	const url = "postgres://pulse:from-file@db:5432/pulse?sslmode=disable"
	file := filepath.Join(t.TempDir(), "database_url")
	if err := os.WriteFile(file, []byte("\n  "+url+"  \n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := mustLoad(t, "serve", nil, map[string]string{"PULSE_DATABASE_URL_FILE": file})
	if cfg.DatabaseURL != url {
		t.Errorf("DatabaseURL from PULSE_DATABASE_URL_FILE = %q, want %q (trimmed)", cfg.DatabaseURL, url)
	}
	if o := cfg.DBOptions(); o.URL != url {
		t.Errorf("DBOptions().URL = %q, want %q", o.URL, url)
	}

	t.Run("direct variable wins", func(t *testing.T) {
		const direct = "postgres://direct@db/pulse"
		cfg := mustLoad(t, "serve", nil, map[string]string{"PULSE_DATABASE_URL": direct, "PULSE_DATABASE_URL_FILE": file})
		if cfg.DatabaseURL != direct {
			t.Errorf("DatabaseURL = %q, want %q", cfg.DatabaseURL, direct)
		}
	})

	t.Run("missing file", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "no-such-secret")
		r := runPulse(t, map[string]string{"PULSE_DATABASE_URL_FILE": missing, "PULSE_DATA_DIR": t.TempDir()}, "migrate")
		if r.code != 2 {
			t.Errorf("exit code %d, want 2; stderr:\n%s", r.code, r.stderr)
		}
		checkOneLine(t, "missing PULSE_DATABASE_URL_FILE", r.stderr)
		if !strings.Contains(r.stderr, "PULSE_DATABASE_URL_FILE") {
			t.Errorf("stderr does not name PULSE_DATABASE_URL_FILE: %q", r.stderr)
		}
		if r.stdout != "" {
			t.Errorf("stdout = %q, want nothing", r.stdout)
		}
	})
}

func TestConfigBaseURL(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"PULSE_ADDR": "0.0.0.0:9000"}, "http://localhost:9000"},
		{map[string]string{"PULSE_ADDR": ":9000"}, "http://localhost:9000"},
		{map[string]string{"PULSE_ADDR": "[::]:9000"}, "http://localhost:9000"},
		{map[string]string{"PULSE_ADDR": "127.0.0.1:9000"}, "http://127.0.0.1:9000"},
		{map[string]string{"PULSE_ADDR": "[::1]:9000"}, "http://[::1]:9000"},
		{map[string]string{"PULSE_ADDR": "pulse.internal:9000"}, "http://pulse.internal:9000"},
		{map[string]string{"PULSE_BASE_URL": "https://pulse.example.com/"}, "https://pulse.example.com"},
		{map[string]string{"PULSE_BASE_URL": "https://example.com/pulse//"}, "https://example.com/pulse"},
		{map[string]string{"PULSE_BASE_URL": "http://pulse.example.com:8443"}, "http://pulse.example.com:8443"},
		{map[string]string{"PULSE_ADDR": "0.0.0.0:9000", "PULSE_BASE_URL": "https://pulse.example.com/"}, "https://pulse.example.com"},
	}
	for _, tt := range tests {
		cfg := mustLoad(t, "serve", nil, tt.env)
		if cfg.BaseURL != tt.want {
			t.Errorf("env %v: BaseURL = %q, want %q", tt.env, cfg.BaseURL, tt.want)
		}
	}
}

func TestConfigBareBoolFlags(t *testing.T) {
	tests := []struct {
		args             []string
		demo, trustProxy bool
	}{
		{[]string{"--demo"}, true, false},
		{[]string{"-demo"}, true, false},
		{[]string{"--demo=true"}, true, false},
		{[]string{"--demo=false"}, false, false},
		{[]string{"--trust-proxy"}, false, true},
		{[]string{"--demo", "--trust-proxy", "--log-level", "debug"}, true, true},
	}
	for _, tt := range tests {
		cfg := mustLoad(t, "serve", tt.args, nil)
		if cfg.Demo != tt.demo || cfg.TrustProxy != tt.trustProxy {
			t.Errorf("args %q: Demo=%v TrustProxy=%v, want %v %v", tt.args, cfg.Demo, cfg.TrustProxy, tt.demo, tt.trustProxy)
		}
	}
	// Through run: a bare --demo makes migrate use the demo database.
	dir := t.TempDir()
	r := runPulse(t, nil, "migrate", "--data-dir", dir, "--demo")
	if r.code != 0 {
		t.Fatalf("migrate --demo: exit %d; stderr:\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "demo.db")); err != nil {
		t.Errorf("migrate --demo did not use demo.db: %v", err)
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"serve", "-h"}, {"migrate", "-h"}, {"demo", "--help"}} {
		r := runPulse(t, nil, args...)
		if r.code != 0 {
			t.Errorf("%q: exit %d, want 0; stderr:\n%s", args, r.code, r.stderr)
		}
		if !strings.Contains(r.stdout+r.stderr, "--addr") && !strings.Contains(r.stdout+r.stderr, "-addr") {
			t.Errorf("%q: help does not list the flags:\n%s%s", args, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stdout+r.stderr, "PULSE_ADDR") {
			t.Errorf("%q: help does not name the environment variables:\n%s%s", args, r.stdout, r.stderr)
		}
	}
	r := runPulse(t, nil, "help")
	if r.code != 0 || !strings.Contains(r.stdout, "Usage: pulse") || r.stderr != "" {
		t.Errorf("help: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestConfigErrors: every bad setting ends with exit 2, one line on stderr
// naming what to fix, nothing on stdout, and no panic.
func TestConfigErrors(t *testing.T) {
	tmp := t.TempDir()
	regular := filepath.Join(tmp, "a-file")
	if err := os.WriteFile(regular, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A valid data dir, so that no case fails for another reason.
	base := map[string]string{"PULSE_DATA_DIR": filepath.Join(tmp, "data")}

	tests := []struct {
		name  string
		env   map[string]string
		args  []string
		names []string // stderr must contain one of these
	}{
		{"addr nonsense", with(base, "PULSE_ADDR", "nonsense"), nil, []string{"PULSE_ADDR"}},
		{"addr port out of range", with(base, "PULSE_ADDR", ":99999"), nil, []string{"PULSE_ADDR"}},
		{"addr port not a number", with(base, "PULSE_ADDR", "host:port"), nil, []string{"PULSE_ADDR"}},
		{"addr port zero", with(base, "PULSE_ADDR", "127.0.0.1:0"), nil, []string{"PULSE_ADDR"}},
		{"base URL ftp", with(base, "PULSE_BASE_URL", "ftp://x"), nil, []string{"PULSE_BASE_URL"}},
		{"base URL without scheme", with(base, "PULSE_BASE_URL", "localhost:8080"), nil, []string{"PULSE_BASE_URL"}},
		{"base URL with query", with(base, "PULSE_BASE_URL", "https://pulse.example.com/?a=b"), nil, []string{"PULSE_BASE_URL"}},
		{"base URL with fragment", with(base, "PULSE_BASE_URL", "https://pulse.example.com/#x"), nil, []string{"PULSE_BASE_URL"}},
		{"base URL without host", with(base, "PULSE_BASE_URL", "https:///path"), nil, []string{"PULSE_BASE_URL"}},
		{"data dir is a file", with(base, "PULSE_DATA_DIR", regular), nil, []string{"PULSE_DATA_DIR"}},
		{"data dir blank", with(base, "PULSE_DATA_DIR", "   "), nil, []string{"PULSE_DATA_DIR"}},
		{"database URL mysql", with(base, "PULSE_DATABASE_URL", "mysql://x"), nil, []string{"PULSE_DATABASE_URL"}},
		{"database URL without host", with(base, "PULSE_DATABASE_URL", "postgres://"), nil, []string{"PULSE_DATABASE_URL"}},
		{"log format xml", with(base, "PULSE_LOG_FORMAT", "xml"), nil, []string{"PULSE_LOG_FORMAT"}},
		{"log level loud", with(base, "PULSE_LOG_LEVEL", "loud"), nil, []string{"PULSE_LOG_LEVEL"}},
		{"session TTL too short", with(base, "PULSE_SESSION_TTL", "1s"), nil, []string{"PULSE_SESSION_TTL"}},
		{"session TTL too long", with(base, "PULSE_SESSION_TTL", "9000h"), nil, []string{"PULSE_SESSION_TTL"}},
		{"session TTL forever", with(base, "PULSE_SESSION_TTL", "forever"), nil, []string{"PULSE_SESSION_TTL"}},
		{"shutdown grace too short", with(base, "PULSE_SHUTDOWN_GRACE", "10ms"), nil, []string{"PULSE_SHUTDOWN_GRACE"}},
		{"shutdown grace not a duration", with(base, "PULSE_SHUTDOWN_GRACE", "soon"), nil, []string{"PULSE_SHUTDOWN_GRACE"}},
		{"trust proxy maybe", with(base, "PULSE_TRUST_PROXY", "maybe"), nil, []string{"PULSE_TRUST_PROXY"}},
		{"demo perhaps", with(base, "PULSE_DEMO", "perhaps"), nil, []string{"PULSE_DEMO"}},
		{"two problems, one line", with(base, "PULSE_LOG_FORMAT", "xml", "PULSE_LOG_LEVEL", "loud"), nil, []string{"PULSE_LOG_LEVEL"}},

		// The same through flags.
		{"flag addr", base, []string{"--addr", "nonsense"}, []string{"PULSE_ADDR", "addr"}},
		{"flag log level", base, []string{"--log-level=loud"}, []string{"PULSE_LOG_LEVEL", "log-level"}},
		{"flag session TTL forever", base, []string{"--session-ttl=forever"}, []string{"PULSE_SESSION_TTL", "session-ttl"}},
		{"flag trust proxy maybe", base, []string{"--trust-proxy=maybe"}, []string{"PULSE_TRUST_PROXY", "trust-proxy"}},
		{"flag demo perhaps", base, []string{"--demo=perhaps"}, []string{"PULSE_DEMO", "demo"}},
		{"flag data dir is a file", base, []string{"--data-dir", regular}, []string{"PULSE_DATA_DIR", "data-dir"}},

		{"unknown flag", base, []string{"--bogus"}, []string{"bogus"}},
		{"unknown flag with value", base, []string{"--frobnicate=3"}, []string{"frobnicate"}},
		{"flag without its value", base, []string{"--addr"}, []string{"addr"}},
		{"unexpected argument", base, []string{"extra"}, []string{"extra"}},
		{"unexpected argument after flags", base, []string{"--log-level", "debug", "extra"}, []string{"extra"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"migrate"}, tt.args...)
			r := runPulse(t, tt.env, args...)
			if r.code != 2 {
				t.Errorf("exit code %d, want 2\nstderr:\n%s", r.code, r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
			checkOneLine(t, tt.name, r.stderr)
			named := false
			for _, n := range tt.names {
				named = named || strings.Contains(firstLine(r.stderr), n)
			}
			if !named {
				t.Errorf("the error line %q names none of %q", firstLine(r.stderr), tt.names)
			}
		})
	}

	t.Run("unknown command", func(t *testing.T) {
		r := runPulse(t, base, "frobnicate", "--addr", ":1")
		if r.code != 2 {
			t.Errorf("exit code %d, want 2", r.code)
		}
		if r.stdout != "" {
			t.Errorf("stdout = %q, want nothing", r.stdout)
		}
		if l := firstLine(r.stderr); !strings.HasPrefix(l, "pulse: ") || !strings.Contains(l, "frobnicate") {
			t.Errorf("first stderr line %q should start with %q and name the command", l, "pulse: ")
		}
		if !strings.Contains(r.stderr, "Usage: pulse") {
			t.Errorf("unknown command: no usage after the error:\n%s", r.stderr)
		}
	})
}

// TestConfigErrorBlamesOnlyWhatWasSet: when only PULSE_ADDR is wrong, the
// message must not also blame PULSE_BASE_URL, which the user did not set
// (its value is derived from the bad address).
func TestConfigErrorBlamesOnlyWhatWasSet(t *testing.T) {
	for _, addr := range []string{"nonsense", "host:port", ":99999"} {
		var out bytes.Buffer
		_, _, err := loadConfig("serve", nil, envOf(map[string]string{"PULSE_ADDR": addr}), &out)
		if err == nil {
			t.Errorf("PULSE_ADDR=%q: no error", addr)
			continue
		}
		if !strings.Contains(err.Error(), "PULSE_ADDR") {
			t.Errorf("PULSE_ADDR=%q: error %q does not name PULSE_ADDR", addr, err)
		}
		if strings.Contains(err.Error(), "PULSE_BASE_URL") {
			t.Errorf("PULSE_ADDR=%q: error also blames PULSE_BASE_URL, which is not set: %q", addr, err)
		}
	}
}

func TestEnvNames(t *testing.T) {
	names := envNames()
	seen := map[string]bool{}
	for _, n := range names {
		if !strings.HasPrefix(n, "PULSE_") {
			t.Errorf("envNames(): %q lacks the PULSE_ prefix", n)
		}
		if seen[n] {
			t.Errorf("envNames(): %q listed twice", n)
		}
		seen[n] = true
	}
	for _, n := range []string{"PULSE_ADDR", "PULSE_BASE_URL", "PULSE_DATA_DIR", "PULSE_DATABASE_URL",
		"PULSE_DATABASE_URL_FILE", "PULSE_LOG_FORMAT", "PULSE_LOG_LEVEL", "PULSE_TRUST_PROXY",
		"PULSE_SESSION_TTL", "PULSE_DEMO"} {
		if !seen[n] {
			t.Errorf("envNames() lacks %s", n)
		}
	}
	// Every listed variable is actually read: setting it to garbage changes
	// the outcome of loadConfig.
	regular := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(regular, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		garbage := "nonsense\x00"
		if n == "PULSE_DATA_DIR" {
			garbage = regular
		}
		var out bytes.Buffer
		_, _, err := loadConfig("serve", nil, envOf(map[string]string{n: garbage}), &out)
		if err == nil {
			t.Errorf("%s=garbage is accepted; is it read at all?", n)
		}
	}
}

func TestConfigOIDC(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "oidc-secret")
	if err := os.WriteFile(secret, []byte("from-a-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	full := map[string]string{"PULSE_OIDC_ISSUER": "https://login.example.com/realms/acme/", "PULSE_OIDC_CLIENT_ID": "pulse",
		"PULSE_OIDC_CLIENT_SECRET_FILE": secret, "PULSE_OIDC_ALLOWED_DOMAINS": " Acme.example, acme.org ", "PULSE_SSO_ONLY": "true"}
	cfg, _, err := loadConfig("serve", nil, envOf(full), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	sso := cfg.SSO()
	if sso == nil || sso.Issuer != "https://login.example.com/realms/acme" || sso.ClientID != "pulse" || sso.ClientSecret != "from-a-file" ||
		strings.Join(sso.AllowedDomains, ",") != "acme.example,acme.org" || !sso.Only {
		t.Fatalf("SSO config %+v", sso)
	}
	if cfg, _, err := loadConfig("serve", nil, envOf(nil), &bytes.Buffer{}); err != nil || cfg.SSO() != nil {
		t.Fatalf("SSO on without settings: %v", err)
	}
	withOIDC := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range full {
			m[a] = b
		}
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no issuer", withOIDC("PULSE_OIDC_ISSUER", ""), "PULSE_OIDC_ISSUER is empty"},
		{"plain http issuer", withOIDC("PULSE_OIDC_ISSUER", "http://login.example.com"), "PULSE_OIDC_ISSUER"},
		{"no client id", withOIDC("PULSE_OIDC_CLIENT_ID", ""), "PULSE_OIDC_CLIENT_ID is empty"},
		{"no secret", withOIDC("PULSE_OIDC_CLIENT_SECRET_FILE", ""), "PULSE_OIDC_CLIENT_SECRET is empty"},
		{"bad domain", withOIDC("PULSE_OIDC_ALLOWED_DOMAINS", "acme.example,@evil"), `"@evil" is not an email domain`},
		{"SSO only alone", map[string]string{"PULSE_SSO_ONLY": "true"}, "PULSE_OIDC_ISSUER is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := loadConfig("serve", nil, envOf(tc.env), &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
	// A local test provider may use plain http.
	if _, _, err := loadConfig("serve", nil, envOf(withOIDC("PULSE_OIDC_ISSUER", "http://127.0.0.1:5556/dex")), &bytes.Buffer{}); err != nil {
		t.Fatalf("loopback issuer: %v", err)
	}
}
