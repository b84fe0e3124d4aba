// Package server assembles Nubiq Hub's HTTP surface: health checks, the MCP endpoint and, as
// they arrive, the admin dashboard. It owns nothing but routing and process-level concerns.
package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"
)

// Checker reports whether a dependency is ready; a non-nil error says why not.
type Checker func(ctx context.Context) error

// Config configures the handler.
type Config struct {
	Logger *slog.Logger
	// Ready is consulted by /readyz (database reachable, migrations done, ...).
	Ready Checker
	// Mounts are extra handlers by pattern, e.g. "/api/mcp/" → the MCP handler.
	Mounts map[string]http.Handler
}

// New returns the service's root handler.
func New(cfg Config) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if cfg.Ready != nil {
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			defer cancel()
			if err := cfg.Ready(ctx); err != nil {
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": err.Error()})
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	for pattern, h := range cfg.Mounts {
		mux.Handle(pattern, h)
	}
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) //nolint:errcheck
}
