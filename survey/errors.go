package survey

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"gorm.io/gorm"
)

// Sentinel errors returned by the services. Wrap them with %w; compare with errors.Is.
var (
	// ErrNotFound means the requested record does not exist (or is not visible).
	ErrNotFound = errors.New("not found")
	// ErrConflict means the change clashes with existing data (duplicate, cycle, in use).
	ErrConflict = errors.New("conflict")
	// ErrForbidden means the principal may not do this.
	ErrForbidden = errors.New("forbidden")
	// ErrInvalidCredentials means the email or password did not match.
	ErrInvalidCredentials = errors.New("invalid email or password")
	// ErrExpired means a link, session or invitation is no longer valid.
	ErrExpired = errors.New("expired")
	// ErrRoundClosed means the round is not open for this action.
	ErrRoundClosed = errors.New("round closed")
)

// ValidationError carries one message per invalid field.
type ValidationError struct {
	Fields map[string]string
}

// Error lists the fields in a stable order.
func (e *ValidationError) Error() string {
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+e.Fields[k])
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// validation collects field errors and returns nil when there are none.
type validation map[string]string

func (v validation) add(field, msg string) {
	if _, ok := v[field]; !ok {
		v[field] = msg
	}
}

func (v validation) err() error {
	if len(v) == 0 {
		return nil
	}
	return &ValidationError{Fields: map[string]string(v)}
}

// conflictError is ErrConflict with a message a user can act on.
type conflictError struct{ msg string }

func (e conflictError) Error() string { return e.msg }
func (e conflictError) Unwrap() error { return ErrConflict }

// Conflict returns an error that matches ErrConflict and reads as msg.
func Conflict(msg string) error { return conflictError{msg} }

// dbErr translates driver errors into domain sentinels at the package boundary.
func dbErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return fmt.Errorf("survey: %s: %w", op, ErrNotFound)
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return fmt.Errorf("survey: %s: %w", op, ErrConflict)
	case errors.Is(err, gorm.ErrForeignKeyViolated):
		return fmt.Errorf("survey: %s: %w", op, ErrConflict)
	}
	var ve *ValidationError
	if errors.As(err, &ve) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) ||
		errors.Is(err, ErrForbidden) || errors.Is(err, ErrExpired) || errors.Is(err, ErrRoundClosed) ||
		errors.Is(err, ErrInvalidCredentials) {
		return err
	}
	return fmt.Errorf("survey: %s: %w", op, err)
}
