package mcp

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/postgres"
	"github.com/nubiq/hub/search"
)

// Deps are what tool handlers need. Fields are added as domains arrive; a nil dependency
// means the tools that need it answer "unavailable".
type Deps struct {
	DB     *postgres.DB
	Logger *slog.Logger
	// Search answers the search tools (documents.search, conversations.search,
	// contacts.search, search, fetch).
	Search *search.Service
	// Now is the clock; tests may fix it.
	Now func() time.Time
}

func (d *Deps) now() time.Time {
	if d.Now != nil {
		return d.Now().UTC()
	}
	return time.Now().UTC()
}

// Registry is the catalogue of tools, in a fixed order: the order of the public contract.
type Registry struct {
	tools  []*Tool
	byName map[string]*Tool
}

// NewRegistry builds every tool on deps.
func NewRegistry(deps *Deps) *Registry {
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Registry{byName: map[string]*Tool{}}
	for _, group := range [][]*Tool{
		conversationTools(deps),
		ticketTools(deps),
		documentTools(deps),
		searchTools(deps),
		contactTools(deps),
		analyticsTools(deps),
		channelTools(deps),
		widgetTools(deps),
		teamTools(deps),
		billingTools(deps),
		notificationTools(deps),
	} {
		for _, t := range group {
			if _, dup := r.byName[t.Name]; dup {
				panic("duplicate tool " + t.Name)
			}
			if !t.Scope.Valid() {
				panic(fmt.Sprintf("tool %s: invalid scope %q", t.Name, t.Scope))
			}
			r.tools = append(r.tools, t)
			r.byName[t.Name] = t
		}
	}
	return r
}

// Tools returns the tools in catalogue order.
func (r *Registry) Tools() []*Tool { return r.tools }

// Lookup returns the named tool or nil.
func (r *Registry) Lookup(name string) *Tool { return r.byName[name] }

// Call runs a tool as the caller, checking the scope first. It is the one path every tool
// call takes, from MCP or elsewhere.
func (r *Registry) Call(ctx context.Context, caller *nubiq.Caller, name string, args json.RawMessage) (any, error) {
	t := r.byName[name]
	if t == nil {
		return nil, nubiq.NotFoundf("unknown tool %q", name)
	}
	if !caller.Has(t.Scope) {
		return nil, nubiq.Errorf(nubiq.ECodeForbidden, "tool %s needs scope %s, which this API key does not have", t.Name, t.Scope)
	}
	return t.call(nubiq.NewContextWithCaller(ctx, caller), args)
}

// errNotAvailable answers calls to tools whose behaviour has not shipped in this build.
func errNotAvailable(name string) error {
	return nubiq.Errorf(nubiq.ECodeUnavailable, "tool %s is not available yet in this version of Nubiq Hub", name)
}

// placeholder registers a tool whose behaviour is not built yet: listed, scoped, and answering
// a clear "not available yet" tool error.
func placeholder(spec ToolSpec) *Tool {
	return NewTool(spec, func(ctx context.Context, in map[string]any) (struct{}, error) {
		return struct{}{}, errNotAvailable(spec.Name)
	})
}
