package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/auth"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/nubiq/hub"
)

// Authenticator turns a bearer token into a caller, or an *nubiq.Error with code
// unauthorized whose message says what was wrong (missing, malformed, unknown, expired,
// revoked).
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*nubiq.Caller, error)
}

// HandlerConfig configures the MCP HTTP handler.
type HandlerConfig struct {
	Registry *Registry
	Auth     Authenticator
	Logger   *slog.Logger
	// MaxBodyBytes bounds request bodies; larger ones get 413. Default 16 MiB, room for a
	// 10 MiB document upload in base64.
	MaxBodyBytes int64
	// AllowedOrigins lists the browser origins (scheme://host[:port]) allowed to call the
	// endpoint. Requests without an Origin header (non-browser clients) are always allowed.
	AllowedOrigins []string
	// Before runs after authentication and before the MCP handler, e.g. the rate limiter. It
	// may write a response and return false to stop the request.
	Before func(w http.ResponseWriter, r *http.Request, caller *nubiq.Caller) bool

	// sdkOnly sends every request through the SDK, for tests comparing its answers with the
	// fast path's.
	sdkOnly bool
}

// NewHandler returns the streamable HTTP handler for /api/mcp/. It is stateless, so any
// replica answers any request.
func NewHandler(cfg HandlerConfig) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 16 << 20
	}
	server := newSDKServer(cfg.Registry, cfg.Logger)
	streamable := sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return server },
		&sdk.StreamableHTTPOptions{Stateless: true, Logger: cfg.Logger})
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
			WriteError(w, nubiq.Errorf(nubiq.ECodeForbidden, "origin %q is not allowed to call this endpoint", origin))
			return
		}
		if r.URL.Query().Has("api_key") || r.URL.Query().Has("access_token") || r.URL.Query().Has("key") {
			WriteError(w, nubiq.Errorf(nubiq.ECodeUnauthorized, "API keys are accepted only in the Authorization header, never in the URL; this key should now be considered exposed"))
			return
		}
		if r.ContentLength > cfg.MaxBodyBytes {
			WriteError(w, nubiq.Errorf(nubiq.ECodeTooLarge, "request body of %d bytes exceeds the limit of %d bytes", r.ContentLength, cfg.MaxBodyBytes))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, cfg.MaxBodyBytes)

		token, err := bearerToken(r)
		if err != nil {
			writeUnauthorized(w, err)
			return
		}
		caller, err := cfg.Auth.Authenticate(r.Context(), token)
		if err != nil {
			if nubiq.ErrorCode(err) == nubiq.ECodeUnauthorized {
				writeUnauthorized(w, err)
			} else {
				if nubiq.ErrorCode(err) == nubiq.ECodeInternal {
					cfg.Logger.Error("authenticate", "err", err)
				}
				WriteError(w, err)
			}
			return
		}
		if cfg.Before != nil && !cfg.Before(w, r, caller) {
			return
		}
		if fast != nil && fast.serve(w, r, caller) {
			return
		}
		r = r.WithContext(nubiq.NewContextWithCaller(r.Context(), caller))
		r.Header.Set("Authorization", "Bearer -") // the SDK needs one; the secret goes no further
		withToken.ServeHTTP(w, r)
	})
}

func bearerToken(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", nubiq.Errorf(nubiq.ECodeUnauthorized, "missing Authorization header; send Authorization: Bearer <API key>")
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", nubiq.Errorf(nubiq.ECodeUnauthorized, "malformed Authorization header; expected Bearer <API key>")
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

func writeUnauthorized(w http.ResponseWriter, err error) {
	// No resource_metadata parameter: we are not an OAuth authorization server, and
	// advertising one sends clients into OAuth discovery.
	w.Header().Set("WWW-Authenticate", `Bearer realm="nubiq", error="invalid_token"`)
	WriteError(w, err)
}

// WriteError writes err as {"error":{"code","message"}} with the status its code maps to.
func WriteError(w http.ResponseWriter, err error) {
	code := nubiq.ErrorCode(err)
	var e *nubiq.Error
	body := ToolErrorBody{Code: code, Message: nubiq.ErrorMessage(err)}
	if errors.As(err, &e) {
		body.Field = e.Field
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(nubiq.ErrorStatus(code))
	json.NewEncoder(w).Encode(map[string]any{"error": body}) //nolint:errcheck
}
