package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pulse-survey/pulse/api"
	"github.com/pulse-survey/pulse/survey"
)

// Config is Pulse's whole configuration: defaults, then PULSE_* environment
// variables, then flags.
type Config struct {
	Addr        string
	BaseURL     string
	DataDir     string
	DatabaseURL string
	// SecretKeyFile holds the instance secret (64 hex characters) that
	// encrypts round keys at rest and derives invitation links.
	SecretKeyFile string
	LogFormat     string
	LogLevel      string
	TrustProxy    bool
	SessionTTL    time.Duration
	// ShutdownGrace is how long a stopping server lets requests in flight
	// (and a running job) finish before it closes what is left.
	ShutdownGrace time.Duration
	Demo          bool

	// SMTP sends invitations and reminders; with SMTPHost empty Pulse
	// sends no email and admins export the survey links instead.
	SMTPHost     string
	SMTPPort     int // 0: by TLS mode (587, 465 or 25)
	SMTPUsername string
	SMTPPassword string
	SMTPFrom     string
	SMTPTLS      string // starttls (also when empty), tls or none

	// OIDC single sign-on for leaders and admins: on when OIDCIssuer is set.
	OIDCIssuer       string
	OIDCClientID     string
	OIDCClientSecret string
	// OIDCAllowedDomains is a comma-separated list of email domains.
	OIDCAllowedDomains string
	// SSOOnly turns password sign-in off.
	SSOOnly bool
	// RequireAdmin2FA makes admins turn on two-factor sign-in.
	RequireAdmin2FA bool

	// announceKey logs the creation of a new secret key (serve only).
	announceKey bool
}

// setting describes one configuration value: its flag, env variable and help.
type setting struct {
	flag, env, help string
	def             string
	set             func(c *Config, v string) error
}

func settings() []setting {
	str := func(f func(c *Config) *string) func(*Config, string) error {
		return func(c *Config, v string) error { *f(c) = v; return nil }
	}
	return []setting{
		{"addr", "PULSE_ADDR", "address to listen on (host:port)", "127.0.0.1:8080", str(func(c *Config) *string { return &c.Addr })},
		{"base-url", "PULSE_BASE_URL", "public URL of this server, used in links (default: from the listen address)", "", str(func(c *Config) *string { return &c.BaseURL })},
		{"data-dir", "PULSE_DATA_DIR", "directory for the SQLite database and keys", "data", str(func(c *Config) *string { return &c.DataDir })},
		{"database-url", "PULSE_DATABASE_URL", "PostgreSQL URL (postgres://...); empty uses the embedded SQLite database", "", str(func(c *Config) *string { return &c.DatabaseURL })},
		{"secret-key-file", "PULSE_SECRET_KEY_FILE", "file with the instance secret key; created if missing (default: <data dir>/secret.key)", "", str(func(c *Config) *string { return &c.SecretKeyFile })},
		{"log-format", "PULSE_LOG_FORMAT", "log format: text or json", "text", str(func(c *Config) *string { return &c.LogFormat })},
		{"log-level", "PULSE_LOG_LEVEL", "log level: debug, info, warn or error", "info", str(func(c *Config) *string { return &c.LogLevel })},
		{"trust-proxy", "PULSE_TRUST_PROXY", "take client IPs from X-Forwarded-For (only behind a reverse proxy)", "false", func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return errors.New("use true or false")
			}
			c.TrustProxy = b
			return nil
		}},
		{"session-ttl", "PULSE_SESSION_TTL", "how long a sign-in lasts, e.g. 12h", "12h", func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return errors.New("use a duration such as 12h or 90m")
			}
			c.SessionTTL = d
			return nil
		}},
		{"shutdown-grace", "PULSE_SHUTDOWN_GRACE", "on SIGTERM, how long requests in flight may take to finish, e.g. 20s", "20s", func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return errors.New("use a duration such as 20s or 1m")
			}
			c.ShutdownGrace = d
			return nil
		}},
		{"smtp-host", "PULSE_SMTP_HOST", "SMTP server for invitations and reminders; empty sends no email (admins export the links)", "", str(func(c *Config) *string { return &c.SMTPHost })},
		{"smtp-port", "PULSE_SMTP_PORT", "SMTP port (default: 587 for starttls, 465 for tls, 25 for none)", "", func(c *Config, v string) error {
			if v == "" {
				c.SMTPPort = 0
				return nil
			}
			p, err := strconv.Atoi(v)
			if err != nil || p < 1 || p > 65535 {
				return errors.New("use a port number from 1 to 65535")
			}
			c.SMTPPort = p
			return nil
		}},
		{"smtp-username", "PULSE_SMTP_USERNAME", "SMTP user name; empty sends without authentication", "", str(func(c *Config) *string { return &c.SMTPUsername })},
		{"smtp-password", "PULSE_SMTP_PASSWORD", "SMTP password (prefer PULSE_SMTP_PASSWORD_FILE)", "", str(func(c *Config) *string { return &c.SMTPPassword })},
		{"smtp-from", "PULSE_SMTP_FROM", "sender of the emails, e.g. 'Pulse <pulse@example.com>'", "", str(func(c *Config) *string { return &c.SMTPFrom })},
		{"smtp-tls", "PULSE_SMTP_TLS", "SMTP encryption: starttls (default), tls (implicit) or none", "", str(func(c *Config) *string { return &c.SMTPTLS })},
		{"oidc-issuer", "PULSE_OIDC_ISSUER", "OpenID Connect issuer URL for single sign-on of leaders and admins; empty turns SSO off", "", str(func(c *Config) *string { return &c.OIDCIssuer })},
		{"oidc-client-id", "PULSE_OIDC_CLIENT_ID", "client id of Pulse at the identity provider", "", str(func(c *Config) *string { return &c.OIDCClientID })},
		{"oidc-client-secret", "PULSE_OIDC_CLIENT_SECRET", "client secret of Pulse at the identity provider (prefer PULSE_OIDC_CLIENT_SECRET_FILE)", "", str(func(c *Config) *string { return &c.OIDCClientSecret })},
		{"oidc-allowed-domains", "PULSE_OIDC_ALLOWED_DOMAINS", "comma-separated email domains that may sign in with SSO; empty allows any", "", str(func(c *Config) *string { return &c.OIDCAllowedDomains })},
		{"sso-only", "PULSE_SSO_ONLY", "sign in with SSO only: passwords are turned off", "false", func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return errors.New("use true or false")
			}
			c.SSOOnly = b
			return nil
		}},
		{"require-admin-2fa", "PULSE_REQUIRE_ADMIN_2FA", "admins must turn on TOTP two-factor sign-in before anything else", "false", func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return errors.New("use true or false")
			}
			c.RequireAdmin2FA = b
			return nil
		}},
		{"demo", "PULSE_DEMO", "seed and serve the demo organisation (in its own database)", "false", func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return errors.New("use true or false")
			}
			c.Demo = b
			return nil
		}},
	}
}

// fileEnv lists the secrets that may also come from a file named by the
// variable with _FILE appended.
var fileEnv = map[string]bool{"PULSE_DATABASE_URL": true, "PULSE_SMTP_PASSWORD": true, "PULSE_OIDC_CLIENT_SECRET": true}

// envNames lists every environment variable Pulse reads.
func envNames() []string {
	var out []string
	for _, s := range settings() {
		out = append(out, s.env)
		if fileEnv[s.env] {
			out = append(out, s.env+"_FILE")
		}
	}
	return out
}

// loadConfig applies defaults, the environment and then flags, and
// validates the result. It returns the remaining arguments. A bad
// environment value is an error only when no flag replaces it.
func loadConfig(name string, args []string, getenv func(string) string, out io.Writer) (*Config, []string, error) {
	c := &Config{}
	for _, s := range settings() {
		if err := s.set(c, s.def); err != nil {
			return nil, nil, err
		}
	}
	envErr := map[string]error{} // by flag name
	for _, s := range settings() {
		v := getenv(s.env)
		if fileEnv[s.env] && v == "" {
			if file := getenv(s.env + "_FILE"); file != "" {
				b, err := os.ReadFile(file)
				if err != nil {
					envErr[s.flag] = fmt.Errorf("%s_FILE: %v", s.env, err)
					continue
				}
				v = strings.TrimSpace(string(b))
			}
		}
		if v == "" {
			continue
		}
		if err := s.set(c, v); err != nil {
			envErr[s.flag] = fmt.Errorf("%s=%q: %v", s.env, v, err)
		}
	}
	fs := flag.NewFlagSet("pulse "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	for _, s := range settings() {
		s := s
		fs.Func(s.flag, s.help+" ["+s.env+"]", func(v string) error { return s.set(c, v) })
	}
	// Boolean flags may be given bare (--demo).
	args = expandBoolFlags(args, "demo", "trust-proxy", "sso-only", "require-admin-2fa")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(out)
			fmt.Fprintf(out, "Usage: pulse %s [flags]\n\nFlags (each also set by the environment variable in brackets):\n", name)
			fs.PrintDefaults()
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("%v (see pulse %s -h)", err, name)
	}
	fs.Visit(func(f *flag.Flag) { delete(envErr, f.Name) })
	for _, s := range settings() {
		if err := envErr[s.flag]; err != nil {
			return nil, nil, err
		}
	}
	if err := c.Validate(); err != nil {
		return nil, nil, err
	}
	return c, fs.Args(), nil
}

func expandBoolFlags(args []string, names ...string) []string {
	out := make([]string, 0, len(args))
	for _, a := range args {
		for _, n := range names {
			if a == "-"+n || a == "--"+n {
				a = "--" + n + "=true"
			}
		}
		out = append(out, a)
	}
	return out
}

// Validate checks every value and says how to fix the first problems found.
func (c *Config) Validate() error {
	var problems []string
	bad := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }

	host, port, err := net.SplitHostPort(c.Addr)
	addrOK := err == nil
	if !addrOK {
		bad("PULSE_ADDR %q: use host:port, e.g. 127.0.0.1:8080 or :8080", c.Addr)
	} else if p, perr := strconv.Atoi(port); perr != nil || p < 1 || p > 65535 {
		addrOK = false
		bad("PULSE_ADDR %q: the port must be a number from 1 to 65535", c.Addr)
	}
	if c.BaseURL == "" && addrOK {
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "localhost"
		}
		c.BaseURL = "http://" + net.JoinHostPort(host, port)
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.BaseURL != "" || addrOK {
		if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			bad("PULSE_BASE_URL %q: use an absolute http:// or https:// URL such as https://pulse.example.com", c.BaseURL)
		}
	}
	if strings.TrimSpace(c.DataDir) == "" {
		bad("PULSE_DATA_DIR is empty: name a directory Pulse may write to, e.g. ./data")
	} else if fi, err := os.Stat(c.DataDir); err == nil && !fi.IsDir() {
		bad("PULSE_DATA_DIR %q is a file, not a directory", c.DataDir)
	}
	if c.DatabaseURL != "" {
		if !survey.IsPostgresURL(c.DatabaseURL) {
			bad("PULSE_DATABASE_URL must start with postgres:// or postgresql:// (leave it empty for the embedded SQLite database)")
		} else if u, err := url.Parse(c.DatabaseURL); err != nil || u.Host == "" {
			bad("PULSE_DATABASE_URL is not a valid URL: use postgres://user:password@host:5432/dbname")
		}
	}
	if c.SecretKeyFile != "" {
		if strings.ContainsRune(c.SecretKeyFile, 0) {
			bad("PULSE_SECRET_KEY_FILE is not a usable file name")
		} else if fi, err := os.Stat(c.SecretKeyFile); err == nil && fi.IsDir() {
			bad("PULSE_SECRET_KEY_FILE %q is a directory, not a file", c.SecretKeyFile)
		}
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("PULSE_LOG_FORMAT %q: use text or json", c.LogFormat)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("PULSE_LOG_LEVEL %q: use debug, info, warn or error", c.LogLevel)
	}
	if c.SessionTTL < 5*time.Minute || c.SessionTTL > 30*24*time.Hour {
		bad("PULSE_SESSION_TTL %s: choose between 5m and 720h", c.SessionTTL)
	}
	if c.ShutdownGrace < time.Second || c.ShutdownGrace > 10*time.Minute {
		bad("PULSE_SHUTDOWN_GRACE %s: choose between 1s and 10m", c.ShutdownGrace)
	}
	c.validateSMTP(bad)
	c.validateOIDC(bad)
	if len(problems) > 0 {
		return errors.New("invalid configuration: " + strings.Join(problems, "; "))
	}
	return nil
}

func (c *Config) validateSMTP(bad func(format string, a ...any)) {
	c.SMTPHost = strings.TrimSpace(c.SMTPHost)
	switch c.SMTPTLS {
	case "", "starttls", "tls", "none":
	default:
		bad("PULSE_SMTP_TLS %q: use starttls, tls or none", c.SMTPTLS)
	}
	if c.SMTPHost == "" {
		if c.SMTPFrom != "" || c.SMTPUsername != "" || c.SMTPPassword != "" || c.SMTPPort != 0 {
			bad("PULSE_SMTP_HOST is empty but other PULSE_SMTP_* settings are set: set the SMTP server's host name, or unset them to send no email")
		}
		return
	}
	if strings.ContainsAny(c.SMTPHost, "/: ") {
		bad("PULSE_SMTP_HOST %q: use a host name such as smtp.example.com, and the port in PULSE_SMTP_PORT", c.SMTPHost)
	}
	if c.SMTPFrom == "" {
		bad("PULSE_SMTP_FROM is empty: set the sender, e.g. 'Pulse <pulse@example.com>'")
	} else if _, err := mail.ParseAddress(c.SMTPFrom); err != nil {
		bad("PULSE_SMTP_FROM %q is not an email address: use e.g. 'Pulse <pulse@example.com>'", c.SMTPFrom)
	}
	if c.SMTPPassword != "" && c.SMTPUsername == "" {
		bad("PULSE_SMTP_PASSWORD is set without PULSE_SMTP_USERNAME")
	}
}

func (c *Config) validateOIDC(bad func(format string, a ...any)) {
	c.OIDCIssuer = strings.TrimRight(strings.TrimSpace(c.OIDCIssuer), "/")
	if c.OIDCIssuer == "" {
		if c.OIDCClientID != "" || c.OIDCClientSecret != "" || c.OIDCAllowedDomains != "" || c.SSOOnly {
			bad("PULSE_OIDC_ISSUER is empty but other single sign-on settings are set: set the identity provider's issuer URL, or unset them")
		}
		return
	}
	u, err := url.Parse(c.OIDCIssuer)
	local := err == nil && (u.Hostname() == "localhost" || net.ParseIP(u.Hostname()).IsLoopback())
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || (u.Scheme != "https" && !(u.Scheme == "http" && local)) {
		bad("PULSE_OIDC_ISSUER %q: use the identity provider's https:// issuer URL, e.g. https://login.example.com/realms/acme", c.OIDCIssuer)
	}
	if c.OIDCClientID == "" {
		bad("PULSE_OIDC_CLIENT_ID is empty: set the client id the identity provider gave Pulse")
	}
	if c.OIDCClientSecret == "" {
		bad("PULSE_OIDC_CLIENT_SECRET is empty: set the client secret (or PULSE_OIDC_CLIENT_SECRET_FILE)")
	}
	for _, d := range c.allowedDomains() {
		if strings.ContainsAny(d, "@/: \x00") || !strings.Contains(d, ".") || strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") {
			bad("PULSE_OIDC_ALLOWED_DOMAINS: %q is not an email domain; list domains such as example.com,example.org", d)
		}
	}
}

// SSO is the single sign-on configuration, or nil when SSO is off.
func (c *Config) SSO() *api.SSOConfig {
	if c.OIDCIssuer == "" {
		return nil
	}
	return &api.SSOConfig{Issuer: c.OIDCIssuer, ClientID: c.OIDCClientID, ClientSecret: c.OIDCClientSecret,
		AllowedDomains: c.allowedDomains(), Only: c.SSOOnly}
}

func (c *Config) allowedDomains() []string {
	var out []string
	for _, d := range strings.Split(c.OIDCAllowedDomains, ",") {
		if d = strings.ToLower(strings.TrimSpace(d)); d != "" {
			out = append(out, d)
		}
	}
	return out
}

// SMTP is the mail server configuration, or nil when email is off.
func (c *Config) SMTP() *survey.SMTPConfig {
	if c.SMTPHost == "" {
		return nil
	}
	mode := c.SMTPTLS
	if mode == "" {
		mode = "starttls"
	}
	port := c.SMTPPort
	if port == 0 {
		switch mode {
		case "tls":
			port = 465
		case "none":
			port = 25
		default:
			port = 587
		}
	}
	return &survey.SMTPConfig{Host: c.SMTPHost, Port: port, Username: c.SMTPUsername, Password: c.SMTPPassword,
		From: c.SMTPFrom, TLS: mode}
}

// SQLitePath is the embedded database file; the demo has its own.
func (c *Config) SQLitePath() string {
	if c.Demo {
		return filepath.Join(c.DataDir, "demo.db")
	}
	return filepath.Join(c.DataDir, "pulse.db")
}

// TempDir holds uploaded roster files between their preview and apply.
func (c *Config) TempDir() string { return filepath.Join(c.DataDir, "tmp") }

// KeyFile is where the instance secret key lives.
func (c *Config) KeyFile() string {
	if c.SecretKeyFile != "" {
		return c.SecretKeyFile
	}
	return filepath.Join(c.DataDir, "secret.key")
}

// DBOptions says which database to open.
func (c *Config) DBOptions() survey.DBOptions {
	return survey.DBOptions{URL: c.DatabaseURL, SQLitePath: c.SQLitePath()}
}
