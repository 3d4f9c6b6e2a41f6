// Package api is Pulse's HTTP layer: the echo server, its one route table,
// middleware, the error handler and thin handlers over the survey and
// reports services.
package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"github.com/pulse-survey/pulse/frontend"
	"github.com/pulse-survey/pulse/reports"
	"github.com/pulse-survey/pulse/survey"
	"github.com/pulse-survey/pulse/survey/migrations"
)

// Deps is what the server needs; cmd/pulse builds it.
type Deps struct {
	DB       *gorm.DB
	Services *survey.Services
	// Logger logs requests and errors. It never receives IPs or user agents.
	Logger *slog.Logger
	// AnonLogger logs anonymous (survey) routes: a logger whose handler
	// drops the time. Nil discards those lines.
	AnonLogger *slog.Logger
	// BaseURL is the public URL, e.g. https://pulse.example.com.
	BaseURL string
	// TrustProxy takes the client IP (used only for rate limiting) from
	// X-Forwarded-For; set it only behind a reverse proxy.
	TrustProxy bool
	// SessionTTL is the absolute lifetime of a login session.
	SessionTTL time.Duration
	// Demo shows demo hints on the home page.
	Demo bool
	// DemoProgress, in demo mode, tells how far the demo history is.
	DemoProgress interface {
		Done() int
		Total() int
		Finished() bool
	}
	Version string
	// TempDir keeps uploaded roster files between their preview and their
	// apply (at most 30 minutes); empty means the system's temporary
	// directory.
	TempDir string
	// RosterApplyWait is how long a roster apply answers within its
	// request before it shows a progress page and goes on in the
	// background; 0 means 20 s.
	RosterApplyWait time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// SSO turns on single sign-on with OpenID Connect; nil means off.
	SSO *SSOConfig
	// RequireAdmin2FA makes admins turn on two-factor sign-in before they
	// may do anything else.
	RequireAdmin2FA bool
	// Mailer sends account email (invitations, password reset links);
	// nil means email is off.
	Mailer survey.Mailer
}

// Server holds the handlers' shared state.
type Server struct {
	deps    Deps
	svc     *survey.Services
	log     *slog.Logger
	anonLog *slog.Logger
	pages   *renderer
	assets  map[string]string // static path -> content hash, for cache busting
	secure  bool
	limiter *loginLimiter
	sso     *sso // nil: single sign-on is off
	// resetLimiter bounds password reset requests.
	resetLimiter *loginLimiter
	now          func() time.Time

	reader    *reports.Reader
	moderator *reports.Moderator
}

// New builds the echo server with every route and middleware.
func New(d Deps) (*echo.Echo, error) {
	if d.Logger == nil {
		d.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if d.AnonLogger == nil {
		d.AnonLogger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if d.SessionTTL == 0 {
		d.SessionTTL = 12 * time.Hour
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	s := &Server{
		deps:    d,
		svc:     d.Services,
		log:     d.Logger,
		anonLog: d.AnonLogger,
		secure:  strings.HasPrefix(d.BaseURL, "https://"),
		limiter: newLoginLimiter(d.Now),

		resetLimiter: newLoginLimiter(d.Now),
		now:          d.Now,

		reader:    &reports.Reader{DB: d.DB},
		moderator: &reports.Moderator{DB: d.DB},
	}
	if d.SSO != nil {
		s.sso = &sso{cfg: *d.SSO}
	}
	var err error
	if s.assets, err = hashAssets(frontend.Static()); err != nil {
		return nil, err
	}
	if s.pages, err = newRenderer(frontend.Templates(), s.templateFuncs()); err != nil {
		return nil, err
	}
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.Renderer = s.pages
	e.HTTPErrorHandler = s.handleError
	if d.TrustProxy {
		e.IPExtractor = echo.ExtractIPFromXFFHeader()
	} else {
		e.IPExtractor = echo.ExtractIPDirect()
	}
	s.routes(e)
	return e, nil
}

// hashAssets fingerprints every static file so pages can link to
// /static/x?v=hash and the file can be cached for a year.
func hashAssets(fsys fs.FS) (map[string]string, error) {
	out := map[string]string{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[p] = hex.EncodeToString(sum[:6])
		return nil
	})
	return out, err
}

// ready reports whether the database answers and carries every migration
// of this build.
func (s *Server) ready(ctx context.Context) error {
	sqlDB, err := s.deps.DB.DB()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(ctx); err != nil {
		return err
	}
	return migrations.Check(ctx, s.deps.DB)
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok", "version": s.deps.Version})
}

func (s *Server) readyz(c echo.Context) error {
	if err := s.ready(c.Request().Context()); err != nil {
		s.log.Warn("readiness check failed", "err", err)
		state := "unreachable"
		if errors.Is(err, migrations.ErrBehind) {
			state = "not migrated (run pulse migrate)"
		}
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "database": state})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ok", "database": "ok"})
}
