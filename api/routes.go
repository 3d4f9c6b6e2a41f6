package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/pulse-survey/pulse/frontend"
	"github.com/pulse-survey/pulse/survey"
)

// contentSecurityPolicy allows nothing from other hosts and no inline
// script or style: an anonymous survey page that loads a CDN leaks IPs.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; manifest-src 'self'; form-action 'self'; base-uri 'none'; " +
	"frame-ancestors 'none'"

// routes is the one route table. Every route that needs an account goes
// through s.authorize (directly or via requireRole).
func (s *Server) routes(e *echo.Echo) {
	e.Pre(middleware.RemoveTrailingSlashWithConfig(middleware.TrailingSlashConfig{RedirectCode: http.StatusMovedPermanently}))
	e.Use(
		middleware.RequestIDWithConfig(middleware.RequestIDConfig{Skipper: anonymousRoute}),
		s.requestLogger,
		middleware.RecoverWithConfig(middleware.RecoverConfig{DisableStackAll: true, LogErrorFunc: s.logPanic}),
		// Headers first, so that every response, errors included, carries them.
		middleware.SecureWithConfig(middleware.SecureConfig{
			XSSProtection:         "0",
			ContentTypeNosniff:    "nosniff",
			XFrameOptions:         "DENY",
			HSTSMaxAge:            hstsAge(s.secure),
			ContentSecurityPolicy: contentSecurityPolicy,
			ReferrerPolicy:        "no-referrer",
		}),
		permissionsPolicy,
		s.cacheControl,
		middleware.BodyLimit("1M"),
		formBodyLimit,
		middleware.GzipWithConfig(middleware.GzipConfig{Level: 5, MinLength: 1024}),
		middleware.ContextTimeoutWithConfig(middleware.ContextTimeoutConfig{Timeout: 30e9}),
	)

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.StaticFS("/static", frontend.Static())

	// Employees answering: no session, no CSRF cookie, anonymous logging.
	e.GET("/s/:secret", s.surveyPage)
	e.GET("/api/v1/survey/rounds/:round/manifest", s.surveyManifest)
	e.POST("/api/v1/survey/issue", s.surveyIssue)
	e.POST("/api/v1/survey/ballots", s.surveyBallot)

	// Pages: sessions and CSRF protection.
	pages := e.Group("", s.csrf(), s.loadPrincipal)
	pages.GET("/", s.home)
	pages.GET("/anonymity", s.anonymityPage)
	pages.GET("/login", s.loginForm)
	pages.POST("/login", s.login)
	pages.POST("/logout", s.logout)
	pages.GET("/setup/:token", s.setupForm)
	pages.POST("/setup/:token", s.setup)
	pages.GET("/dashboard", s.dashboard, s.requireRole(survey.RoleLeader))
	pages.GET("/reports", s.reportPick, s.requireRole(survey.RoleLeader))
	pages.GET("/reports/:unit", s.reportPage, s.requireRole(survey.RoleLeader))
	pages.GET("/reports/:unit/export.csv", s.reportCSV, s.requireRole(survey.RoleLeader))
	pages.GET("/help/statistics", s.statisticsHelp)

	admin := pages.Group("/admin", s.requireRole(survey.RoleAdmin))
	admin.GET("", s.adminHome)
	admin.GET("/comments", s.adminComments)
	admin.POST("/comments/:id", s.adminCommentDecide)
	admin.POST("/programs/:program/launch", s.adminLaunch)
	admin.POST("/rounds/:round/close", s.adminClose)
	admin.POST("/settings", s.adminSettings)
	// -- admin: roster import --
	// -- admin: teams, people, leaders, programs, rounds --
	// -- admin: audit log, API tokens --

	// JSON API: the same principal, JSON errors.
	v1 := e.Group("/api/v1", s.csrf(), s.loadPrincipal)
	v1.GET("/me", s.apiMe, s.requireRole(survey.RoleLeader))
	v1.GET("/org/teams", s.apiTeams, s.requireRole(survey.RoleLeader))
	v1.GET("/reports/units", s.apiReportUnits, s.requireRole(survey.RoleLeader))
	v1.GET("/reports/units/:unit", s.apiReport, s.requireRole(survey.RoleLeader))

	v1admin := v1.Group("/admin", s.requireRole(survey.RoleAdmin))
	// -- api admin: roster import --
	// -- api admin: teams, people, leaders, programs, rounds --
	// -- api admin: audit log, API tokens --
	_ = v1admin
}

// formBodyLimit parses form bodies up front so that one over the body
// limit without a Content-Length is a 413, not a missing CSRF token.
func formBodyLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ct := c.Request().Header.Get(echo.HeaderContentType)
		if c.Request().Method == http.MethodPost && (strings.HasPrefix(ct, echo.MIMEApplicationForm) || strings.HasPrefix(ct, echo.MIMEMultipartForm)) {
			if _, err := c.FormParams(); err != nil {
				if errors.Is(err, echo.ErrStatusRequestEntityTooLarge) {
					return echo.ErrStatusRequestEntityTooLarge
				}
				return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.")
			}
		}
		return next(c)
	}
}

func hstsAge(secure bool) int {
	if secure {
		return 31536000
	}
	return 0
}

func permissionsPolicy(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()")
		c.Response().Header().Set("Cross-Origin-Opener-Policy", "same-origin")
		return next(c)
	}
}

// cacheControl lets fingerprinted assets be cached for a year and makes
// browsers revalidate everything else.
func (s *Server) cacheControl(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		p := c.Request().URL.Path
		if rel, ok := strings.CutPrefix(p, "/static/"); ok && c.QueryParam("v") != "" && c.QueryParam("v") == s.assets[rel] {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "no-cache")
		}
		return next(c)
	}
}

// anonymousRoute marks routes used by employees answering a survey: they get
// no request id and a log line without time, IP or user agent.
func anonymousRoute(c echo.Context) bool {
	p := c.Request().URL.Path
	return strings.HasPrefix(p, "/s/") || strings.HasPrefix(p, "/api/v1/survey/")
}
