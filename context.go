package nubiq

import (
	"context"
	"slices"
	"time"
)

// Caller is the identity behind a request: the API key, its workspace and what it may do.
type Caller struct {
	WorkspaceID int64
	KeyID       int64
	KeyPrefix   string // non-secret, for logs and audit rows
	Plan        string
	// PerMinute and PerDay are the plan's request limits when the key was verified.
	PerMinute int
	PerDay    int
	Scopes    []Scope
	ExpiresAt time.Time
}

// Has reports whether the caller holds scope s.
func (c *Caller) Has(s Scope) bool { return c != nil && slices.Contains(c.Scopes, s) }

type callerKey struct{}

// NewContextWithCaller returns a context carrying the caller.
func NewContextWithCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFromContext returns the caller carried by ctx, or nil.
func CallerFromContext(ctx context.Context) *Caller {
	c, _ := ctx.Value(callerKey{}).(*Caller)
	return c
}
