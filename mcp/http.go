package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/auth"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/postgres"
)

// Authenticator turns a bearer token into a caller, or an *nubiq.Error with code
// unauthorized whose message says what was wrong (missing, malformed, unknown, expired,
// revoked).
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*nubiq.Caller, error)
}

// DefaultMaxBodyBytes leaves room for a 10 MiB document upload in base64.
const DefaultMaxBodyBytes = 16 << 20

// HandlerConfig configures the MCP HTTP handler.
type HandlerConfig struct {
	Registry *Registry
	Auth     Authenticator
	// Limiter enforces plan rate limits; nil disables them (tests of other concerns).
	Limiter Limiter
	Logger  *slog.Logger
	// MaxBodyBytes bounds request bodies; larger ones get 413, whether or not they declare a
	// Content-Length. Default DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// AllowedOrigins lists the browser origins (scheme://host[:port]) allowed to call the
	// endpoint, "*" for any. Requests without an Origin header (non-browser clients) and
	// requests from the server's own origin are always allowed.
	AllowedOrigins []string
	// Before runs after authentication and rate limiting and before the MCP handler. It may
	// write a response and return false to stop the request.
	Before func(w http.ResponseWriter, r *http.Request, caller *nubiq.Caller) bool

	// sdkOnly sends every request through the SDK, for tests comparing its answers with the
	// fast path's.
	sdkOnly bool
}

// NewHandler returns the streamable HTTP handler for /api/mcp/. It is stateless, so any
// replica answers any request. Each request goes through, in order: the Origin check, the
// refusal of keys in the URL, the declared body size, authentication, the rate limit (whose
// headers every later response carries), the actual body size, and the MCP server.
func NewHandler(cfg HandlerConfig) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	// The SDK logs every stateless request's session at info; keep its warnings only.
	sdkLogger := slog.New(minLevel{cfg.Logger.Handler(), slog.LevelWarn})
	server := newSDKServer(cfg.Registry, sdkLogger)
	// JSONResponse stays off: responses are SSE streams when the client accepts them, so that
	// long tools can send progress notifications before their result.
	streamable := sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return server },
		&sdk.StreamableHTTPOptions{Stateless: true, Logger: sdkLogger})
	// The SDK reads the caller from TokenInfo; we authenticate before it, so this verifier only
	// hands over the caller already in the request context.
	withToken := auth.RequireBearerToken(func(ctx context.Context, _ string, _ *http.Request) (*auth.TokenInfo, error) {
		c := nubiq.CallerFromContext(ctx)
		if c == nil {
			return nil, auth.ErrInvalidToken
		}
		return &auth.TokenInfo{Expiration: c.ExpiresAt, Extra: map[string]any{callerExtraKey: c}}, nil
	}, nil)(streamable)
	var fast *fastCaller
	if !cfg.sdkOnly {
		fast = newFastCaller(cfg.Registry, cfg.Logger)
	}

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" && !originAllowed(origin, r, cfg.AllowedOrigins) {
			WriteError(w, nubiq.Errorf(nubiq.ECodeForbidden, "origin %q is not allowed to call this endpoint; allowed origins are configured with NUBIQ_ALLOWED_ORIGINS", origin))
			return
		}
		if q := r.URL.Query(); q.Has("api_key") || q.Has("access_token") || q.Has("key") || q.Has("token") {
			writeUnauthorized(w, unauthorized(ReasonInURL, "API keys are accepted only in the Authorization header, never in the URL; a key sent in a URL should be considered exposed: revoke it"))
			return
		}
		if r.ContentLength > cfg.MaxBodyBytes {
			WriteError(w, tooLarge(cfg.MaxBodyBytes))
			return
		}

		token, err := bearerToken(r)
		if err != nil {
			writeUnauthorized(w, err)
			return
		}
		caller, err := cfg.Auth.Authenticate(r.Context(), token)
		if err != nil {
			err = postgres.Unavailable(err)
			if nubiq.ErrorCode(err) == nubiq.ECodeUnauthorized {
				writeUnauthorized(w, err)
			} else {
				logInternal(cfg.Logger, "authenticate", err)
				WriteError(w, err)
			}
			return
		}
		if cfg.Limiter != nil {
			st, err := cfg.Limiter.Allow(r.Context(), caller)
			if err != nil {
				err = postgres.Unavailable(err)
				logInternal(cfg.Logger, "rate limit", err)
				WriteError(w, err)
				return
			}
			st.SetHeaders(w.Header())
			if !st.Allowed {
				writeRateLimited(w, st, caller.Plan)
				return
			}
		}
		if cfg.Before != nil && !cfg.Before(w, r, caller) {
			return
		}
		// Read the body here, bounded, so that one without a Content-Length (chunked) that runs
		// past the limit gets the same clear 413 as one that declares its size.
		var body []byte
		if r.Body != nil && r.Body != http.NoBody {
			body, err = io.ReadAll(io.LimitReader(r.Body, cfg.MaxBodyBytes+1))
			if int64(len(body)) > cfg.MaxBodyBytes {
				WriteError(w, tooLarge(cfg.MaxBodyBytes))
				return
			} else if err != nil {
				WriteError(w, nubiq.Invalidf("body", "could not read the request body: %v", err))
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		if fast != nil && fast.serve(w, r, body, caller) {
			return
		}
		r = r.WithContext(nubiq.NewContextWithCaller(r.Context(), caller))
		r.Header.Set("Authorization", "Bearer -") // the SDK needs one; the secret goes no further
		uw := &unhandledWriter{ResponseWriter: w, body: body}
		withToken.ServeHTTP(uw, r)
		uw.finish()
	})
}

func tooLarge(limit int64) error {
	return nubiq.Errorf(nubiq.ECodeTooLarge, "request body exceeds the limit of %d bytes", limit)
}

func logInternal(logger *slog.Logger, what string, err error) {
	if code := nubiq.ErrorCode(err); code == nubiq.ECodeInternal || code == nubiq.ECodeUnavailable {
		logger.Error(what, "err", err)
	}
}

func bearerToken(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", unauthorized(ReasonMissing, "missing Authorization header; send Authorization: Bearer <API key>")
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", unauthorized(ReasonMalformedHeader, "malformed Authorization header; expected Bearer <API key>")
	}
	return strings.TrimSpace(token), nil
}

// originAllowed accepts configured origins and the server's own origin.
func originAllowed(origin string, r *http.Request, allowed []string) bool {
	if slices.Contains(allowed, origin) || slices.Contains(allowed, "*") {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}

// Reasons a request is unauthenticated, given in the 401 body's "reason".
const (
	ReasonMissing         = "missing"          // no Authorization header
	ReasonMalformedHeader = "malformed_header" // not "Bearer <key>"
	ReasonMalformedKey    = "malformed_key"    // not shaped like a Nubiq Hub key
	ReasonUnknown         = "unknown"          // no such key
	ReasonExpired         = "expired"
	ReasonRevoked         = "revoked"
	ReasonInURL           = "key_in_url" // a key was sent in the query string
)

// AuthError is an unauthorized error with a machine-readable reason.
type AuthError struct {
	Reason string
	Err    *nubiq.Error
}

func (e *AuthError) Error() string { return e.Err.Error() }
func (e *AuthError) Unwrap() error { return e.Err }

func unauthorized(reason, format string, args ...any) error {
	return &AuthError{Reason: reason, Err: nubiq.Errorf(nubiq.ECodeUnauthorized, format, args...)}
}

// UnauthorizedBody is the "error" object of a 401.
type UnauthorizedBody struct {
	Code    string `json:"code"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message"`
}

func writeUnauthorized(w http.ResponseWriter, err error) {
	body := UnauthorizedBody{Code: nubiq.ECodeUnauthorized, Message: nubiq.ErrorMessage(err)}
	var ae *AuthError
	if errors.As(err, &ae) {
		body.Reason = ae.Reason
	}
	// No resource_metadata parameter: we are not an OAuth authorization server, and
	// advertising one sends clients into OAuth discovery. RFC 6750 gives no error code to a
	// request that sent no credentials.
	if body.Reason == ReasonMissing {
		w.Header().Set("WWW-Authenticate", `Bearer realm="nubiq"`)
	} else {
		w.Header().Set("WWW-Authenticate", `Bearer realm="nubiq", error="invalid_token"`)
	}
	writeJSON(w, http.StatusUnauthorized, map[string]any{"error": body})
}

// WriteError writes err as {"error":{"code","message"}} with the status its code maps to.
func WriteError(w http.ResponseWriter, err error) {
	code := nubiq.ErrorCode(err)
	var e *nubiq.Error
	body := ToolErrorBody{Code: code, Message: nubiq.ErrorMessage(err)}
	if errors.As(err, &e) {
		body.Field = e.Field
	}
	if code == nubiq.ECodeUnavailable {
		w.Header().Set("Retry-After", "2")
	}
	writeJSON(w, nubiq.ErrorStatus(code), map[string]any{"error": body})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) //nolint:errcheck
}

// minLevel drops records below a level.
type minLevel struct {
	slog.Handler
	level slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(attrs), h.level}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.level}
}
