package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/pulse-survey/pulse/survey"
)

// errUnauthenticated means the request needs a signed-in account.
var errUnauthenticated = errors.New("sign in to continue")

// apiError is the one JSON error shape: {"error": {...}}.
type apiError struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// classify maps an error to a status, a stable code and a message safe to
// show. Unknown errors are 500 with a generic message.
func classify(err error) (int, apiError) {
	var ve *survey.ValidationError
	var he *echo.HTTPError
	switch {
	case errors.As(err, &ve):
		return http.StatusUnprocessableEntity, apiError{Code: "invalid", Message: "Some fields need attention.", Fields: ve.Fields}
	case errors.Is(err, errUnauthenticated):
		return http.StatusUnauthorized, apiError{Code: "unauthenticated", Message: "Sign in to continue."}
	case errors.Is(err, survey.ErrInvalidCredentials):
		return http.StatusUnauthorized, apiError{Code: "invalid_credentials", Message: "The email or password is wrong."}
	case errors.Is(err, survey.ErrForbidden):
		return http.StatusForbidden, apiError{Code: "forbidden", Message: "You do not have access to this."}
	case errors.Is(err, survey.ErrNotFound):
		return http.StatusNotFound, apiError{Code: "not_found", Message: "Not found."}
	case errors.Is(err, survey.ErrTokenSpent):
		return http.StatusConflict, apiError{Code: "token_spent", Message: "This token was already used: your answers are already counted."}
	case errors.Is(err, survey.ErrConflict):
		return http.StatusConflict, apiError{Code: "conflict", Message: conflictMessage(err)}
	case errors.Is(err, survey.ErrExpired):
		return http.StatusGone, apiError{Code: "expired", Message: "This link has expired or was already used."}
	case errors.Is(err, survey.ErrRoundClosed):
		return http.StatusGone, apiError{Code: "round_closed", Message: "This round is not open."}
	case errors.As(err, &he):
		msg := http.StatusText(he.Code)
		if m, ok := he.Message.(string); ok && he.Code < 500 {
			msg = m
		}
		return he.Code, apiError{Code: strings.ReplaceAll(strings.ToLower(http.StatusText(he.Code)), " ", "_"), Message: msg}
	}
	return http.StatusInternalServerError, apiError{Code: "internal", Message: "Something went wrong on our side. Try again; if it keeps happening, tell your Pulse administrator."}
}

// conflictMessage keeps the domain's own words (they are written for users)
// and drops the "survey: op:" prefixes.
func conflictMessage(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && strings.HasPrefix(msg, "survey:") {
		msg = msg[i+2:]
	}
	if msg == survey.ErrConflict.Error() {
		return "This clashes with existing data."
	}
	return strings.ToUpper(msg[:1]) + msg[1:]
}

func wantsJSON(c echo.Context) bool {
	p := c.Request().URL.Path
	return strings.HasPrefix(p, "/api/") || strings.Contains(c.Request().Header.Get("Accept"), "application/json") &&
		!strings.Contains(c.Request().Header.Get("Accept"), "text/html")
}

// handleError is echo's HTTPErrorHandler: JSON under /api, an HTML page
// elsewhere; a driver's error text never reaches a client.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, body := classify(err)
	if status >= 500 {
		s.logger(c).Error("request failed", "route", c.Path(), "err", err)
	}
	if errors.Is(err, errTwoFactorRequired) && !wantsJSON(c) {
		err = c.Redirect(http.StatusSeeOther, "/account/2fa")
	} else if errors.Is(err, errUnauthenticated) && !wantsJSON(c) {
		target := "/login"
		if c.Request().Method == http.MethodGet {
			target += "?next=" + urlQueryEscape(c.Request().URL.RequestURI())
		}
		err = c.Redirect(http.StatusSeeOther, target)
	} else if wantsJSON(c) {
		if c.Request().Method == http.MethodHead {
			err = c.NoContent(status)
		} else {
			err = c.JSON(status, map[string]apiError{"error": body})
		}
	} else {
		err = c.Render(status, "error.html", s.page(c, fmt.Sprintf("%d %s", status, http.StatusText(status)), body))
	}
	if err != nil {
		s.logger(c).Error("writing error response", "err", err)
	}
}

func (s *Server) logPanic(c echo.Context, err error, stack []byte) error {
	s.logger(c).Error("panic", "route", c.Path(), "err", err, "stack", string(stack))
	return err
}

// logger picks the anonymous logger on survey routes.
func (s *Server) logger(c echo.Context) *slog.Logger {
	if anonymousRoute(c) {
		return s.anonLog
	}
	return s.log.With("request_id", c.Response().Header().Get(echo.HeaderXRequestID))
}

// requestLogger logs method, route template, status and duration. It never
// logs IPs, user agents, bodies or the raw path (survey links are secrets).
func (s *Server) requestLogger(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := s.now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		status := c.Response().Status
		route := c.Path()
		if route == "" {
			route = "(no route)"
		}
		if anonymousRoute(c) {
			s.anonLog.Info("request", "method", c.Request().Method, "route", route, "status", status)
			return nil
		}
		lvl := slog.LevelInfo
		if status >= 500 {
			lvl = slog.LevelError
		}
		s.log.Log(c.Request().Context(), lvl, "request", "method", c.Request().Method, "route", route,
			"status", status, "ms", s.now().Sub(start).Milliseconds(),
			"request_id", c.Response().Header().Get(echo.HeaderXRequestID))
		return nil
	}
}
