// Package nubiq holds Nubiq Hub's domain: the types every other package speaks, the scopes
// API keys carry, the caller identity carried in a context, and one error vocabulary.
// It imports nothing of the project's own.
package nubiq

import (
	"errors"
	"fmt"
)

// Error codes. One place (ErrorStatus) maps them to HTTP statuses; the MCP layer maps them to
// tool errors. Only ECodeInternal errors are logged with their detail.
const (
	ECodeInvalid      = "invalid"
	ECodeNotFound     = "not_found"
	ECodeUnauthorized = "unauthorized"
	ECodeForbidden    = "forbidden"
	ECodeRateLimited  = "rate_limited"
	ECodeConflict     = "conflict"
	ECodeUnavailable  = "unavailable"
	ECodeTooLarge     = "too_large"
	ECodeInternal     = "internal"
)

// Error is an application error whose Code and Message are safe to show to the caller.
// Field names the offending input field for ECodeInvalid errors.
type Error struct {
	Code    string
	Field   string
	Message string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", e.Code, e.Field, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalidf reports bad input in field: what was wrong and what is allowed.
func Invalidf(field, format string, args ...any) *Error {
	return &Error{Code: ECodeInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// NotFoundf reports a missing resource. Resources of other workspaces are reported the same
// way, so that their existence never leaks.
func NotFoundf(format string, args ...any) *Error {
	return &Error{Code: ECodeNotFound, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, ECodeInternal for any other
// error and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return ECodeInternal
}

// ErrorMessage returns a message safe to show to a caller: the *Error's own message, or a
// generic one for internal errors, whose detail is for the logs only.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		if e.Field != "" {
			return e.Field + ": " + e.Message
		}
		return e.Message
	}
	return "internal error"
}

// ErrorField returns the offending field of an ECodeInvalid error, if any.
func ErrorField(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

// ErrorStatus maps an error code to an HTTP status.
func ErrorStatus(code string) int {
	switch code {
	case "":
		return 200
	case ECodeInvalid:
		return 400
	case ECodeUnauthorized:
		return 401
	case ECodeForbidden:
		return 403
	case ECodeNotFound:
		return 404
	case ECodeConflict:
		return 409
	case ECodeTooLarge:
		return 413
	case ECodeRateLimited:
		return 429
	case ECodeUnavailable:
		return 503
	default:
		return 500
	}
}
