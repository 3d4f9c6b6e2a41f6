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
		// 1 MB for everything but roster uploads, which may be 20 MB. Both
		// limits apply before anything (CSRF, sessions) reads the body.
		middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{Limit: "1M", Skipper: rosterUpload}),
		middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{Limit: "20M", Skipper: func(c echo.Context) bool { return !rosterUpload(c) }}),
		formBodyLimit,
		middleware.GzipWithConfig(middleware.GzipConfig{Level: 5, MinLength: 1024}),
		middleware.ContextTimeoutWithConfig(middleware.ContextTimeoutConfig{Timeout: 30e9}),
	)

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.StaticFS("/static", frontend.Static())
	// Browsers ask for /favicon.ico on pages that declare no icon (JSON, CSV).
	e.GET("/favicon.ico", func(c echo.Context) error {
		return c.Redirect(http.StatusMovedPermanently, "/static/favicon.svg")
	})

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
	pages.GET("/login/2fa", s.secondFactorForm)
	pages.POST("/login/2fa", s.secondFactor)
	pages.GET("/account/2fa", s.twoFactorPage, s.accountOnly)
	pages.POST("/account/2fa/enable", s.twoFactorEnable, s.accountOnly)
	pages.POST("/account/2fa/disable", s.twoFactorDisable, s.accountOnly)
	pages.GET("/login/sso", s.ssoStart)
	pages.GET("/login/sso/callback", s.ssoCallback)
	pages.GET("/setup/:token", s.setupForm)
	pages.POST("/setup/:token", s.setup)
	pages.GET("/password/forgot", s.forgotForm)
	pages.POST("/password/forgot", s.forgot)
	pages.GET("/password/reset/:token", s.resetForm)
	pages.POST("/password/reset/:token", s.reset)
	pages.GET("/dashboard", s.dashboard, s.requireRole(survey.RoleLeader))
	pages.GET("/reports", s.reportPick, s.requireRole(survey.RoleLeader))
	pages.GET("/reports/:unit", s.reportPage, s.requireRole(survey.RoleLeader))
	pages.GET("/reports/:unit/export.csv", s.reportCSV, s.requireRole(survey.RoleLeader))
	pages.GET("/help/statistics", s.statisticsHelp)

	// auditAdmin records every successful state-changing admin request.
	admin := pages.Group("/admin", s.requireRole(survey.RoleAdmin), s.auditAdmin)
	admin.GET("", s.adminHome)
	admin.GET("/comments", s.adminComments)
	admin.POST("/comments/:id", s.adminCommentDecide)
	admin.POST("/programs/:program/launch", s.adminLaunch)
	admin.POST("/rounds/:round/close", s.adminClose)
	admin.POST("/settings", s.adminSettings)
	// -- admin: roster import --
	roster := newRosterImport(s)
	admin.GET("/roster", roster.form)
	admin.POST("/roster/preview", roster.preview)
	admin.POST("/roster/apply", roster.apply)
	admin.GET("/roster/jobs/:id", roster.job)
	// -- admin: teams, people, leaders, programs, rounds --
	admin.GET("/teams", s.adminTeams)
	admin.POST("/teams", s.adminTeamCreate)
	admin.GET("/teams/:team", s.adminTeam)
	admin.POST("/teams/:team/rename", s.adminTeamRename)
	admin.POST("/teams/:team/move", s.adminTeamMove)
	admin.POST("/teams/:team/archive", s.adminTeamArchive)
	admin.GET("/people", s.adminPeople)
	admin.GET("/people/:person", s.adminPerson)
	admin.POST("/people/:person", s.adminPersonSave)
	admin.GET("/leaders", s.adminLeaders)
	admin.POST("/leaders/invite", s.adminLeaderInvite)
	// -- admin: account management --
	admin.GET("/leaders/:user", s.adminAccount)
	admin.POST("/leaders/:user/teams", s.adminAccountTeams)
	admin.POST("/leaders/:user/deactivate", s.adminAccountActive(false))
	admin.POST("/leaders/:user/reactivate", s.adminAccountActive(true))
	admin.POST("/leaders/:user/password-reset", s.adminAccountReset)
	admin.POST("/leaders/:user/2fa-reset", s.adminTwoFactorReset)
	admin.POST("/leaders/invites/:invite/resend", s.adminInviteResend)
	admin.POST("/leaders/invites/:invite/revoke", s.adminInviteRevoke)
	admin.GET("/programs", s.adminPrograms)
	admin.GET("/programs/new", s.adminProgramNew)
	admin.POST("/programs", s.adminProgramCreate)
	admin.GET("/programs/:program", s.adminProgram)
	admin.POST("/programs/:program", s.adminProgramSave)
	admin.GET("/programs/:program/preview", s.adminProgramPreview)
	admin.POST("/programs/:program/delete", s.adminProgramDelete)
	admin.POST("/questions", s.adminQuestionCreate)
	admin.GET("/rounds", s.adminRounds)
	// -- admin: audit log, API tokens --
	admin.GET("/audit", s.adminAudit)
	admin.GET("/tokens", s.adminTokens)
	admin.POST("/tokens", s.adminTokenCreate)
	admin.POST("/tokens/:id/revoke", s.adminTokenRevoke)
	pages.GET("/logging", s.loggingPage) // public: what Pulse logs
	// -- admin: delivery --
	admin.GET("/rounds/:round/delivery", s.adminDelivery)
	admin.GET("/rounds/:round/links.csv", s.adminLinksCSV)

	// JSON API: the same principal, JSON errors.
	v1 := e.Group("/api/v1", s.csrf(), s.loadPrincipal)
	v1.GET("/me", s.apiMe, s.requireRole(survey.RoleLeader))
	v1.GET("/org/teams", s.apiTeams, s.requireRole(survey.RoleLeader))
	v1.GET("/reports/units", s.apiReportUnits, s.requireRole(survey.RoleLeader))
	v1.GET("/reports/units/:unit", s.apiReport, s.requireRole(survey.RoleLeader))

	v1admin := v1.Group("/admin", s.requireRole(survey.RoleAdmin), s.auditAdmin)
	// -- api admin: roster import --
	v1admin.POST("/roster/preview", roster.apiPreview)
	v1admin.POST("/roster/apply", roster.apiApply)
	// -- api admin: teams, people, leaders, programs, rounds --
	v1admin.GET("/teams", s.apiAdminTeams)
	v1admin.POST("/teams", s.apiAdminTeamCreate)
	v1admin.PATCH("/teams/:team", s.apiAdminTeamUpdate)
	v1admin.POST("/teams/:team/archive", s.apiAdminTeamArchive)
	v1admin.GET("/people", s.apiAdminPeople)
	v1admin.PATCH("/people/:person", s.apiAdminPersonUpdate)
	v1admin.GET("/leaders", s.apiAdminLeaders)
	v1admin.POST("/leaders/invites", s.apiAdminInvite)
	// -- api admin: account management --
	v1admin.GET("/leaders/invites", s.apiAdminInvites)
	v1admin.POST("/leaders/invites/:invite/resend", s.apiAdminInviteResend)
	v1admin.DELETE("/leaders/invites/:invite", s.apiAdminInviteRevoke)
	v1admin.GET("/leaders/:user", s.apiAdminAccount)
	v1admin.PUT("/leaders/:user/teams", s.apiAdminAccountTeams)
	v1admin.POST("/leaders/:user/deactivate", s.apiAdminAccountActive(false))
	v1admin.POST("/leaders/:user/reactivate", s.apiAdminAccountActive(true))
	v1admin.POST("/leaders/:user/password-reset", s.apiAdminAccountReset)
	v1admin.GET("/questions", s.apiAdminQuestions)
	v1admin.POST("/questions", s.apiAdminQuestionCreate)
	v1admin.GET("/programs", s.apiAdminPrograms)
	v1admin.POST("/programs", s.apiAdminProgramCreate)
	v1admin.GET("/programs/:program", s.apiAdminProgram)
	v1admin.PUT("/programs/:program", s.apiAdminProgramUpdate)
	v1admin.PATCH("/programs/:program", s.apiAdminProgramUpdate)
	v1admin.DELETE("/programs/:program", s.apiAdminProgramDelete)
	v1admin.GET("/programs/:program/preview", s.apiAdminProgramPreview)
	v1admin.GET("/rounds", s.apiAdminRounds)
	v1admin.POST("/rounds", s.apiAdminLaunch)
	v1admin.GET("/rounds/:round", s.apiAdminRound)
	v1admin.POST("/rounds/:round/close", s.apiAdminClose)
	// -- api admin: audit log, API tokens --
	e.GET("/api/v1/openapi.yaml", s.openAPI) // public, no session
	v1admin.GET("/audit", s.apiAudit)
	v1admin.GET("/tokens", s.apiTokens)
	v1admin.POST("/tokens", s.apiTokenCreate)
	v1admin.DELETE("/tokens/:id", s.apiTokenRevoke)
	_ = v1admin
}

// multipartMemory is how much of a multipart form's files is held in
// memory; the rest goes to temporary files (removed after the request).
const multipartMemory = 1 << 20

// formBodyLimit parses form bodies up front so that one over the body
// limit without a Content-Length is a 413, not a missing CSRF token.
func formBodyLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ct := c.Request().Header.Get(echo.HeaderContentType)
		if c.Request().Method == http.MethodPost && (strings.HasPrefix(ct, echo.MIMEApplicationForm) || strings.HasPrefix(ct, echo.MIMEMultipartForm)) {
			if strings.HasPrefix(ct, echo.MIMEMultipartForm) {
				// Uploaded files over 1 MB go to temporary files, not memory.
				err := c.Request().ParseMultipartForm(multipartMemory)
				defer func() {
					if f := c.Request().MultipartForm; f != nil {
						f.RemoveAll()
					}
				}()
				if err != nil {
					if errors.Is(err, echo.ErrStatusRequestEntityTooLarge) {
						return echo.ErrStatusRequestEntityTooLarge
					}
					return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.")
				}
			}
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

// rosterUpload marks the routes that take a roster file.
func rosterUpload(c echo.Context) bool {
	switch c.Request().URL.Path {
	case "/admin/roster/preview", "/api/v1/admin/roster/preview", "/api/v1/admin/roster/apply":
		return true
	}
	return false
}

// anonymousRoute marks routes used by employees answering a survey: they get
// no request id and a log line without time, IP or user agent.
func anonymousRoute(c echo.Context) bool {
	p := c.Request().URL.Path
	return strings.HasPrefix(p, "/s/") || strings.HasPrefix(p, "/api/v1/survey/")
}
