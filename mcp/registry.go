package mcp

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
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
	// SendInvitations is set when the service can send email (NUBIQ_SMTP_* configured):
	// team.invite then queues the invitation email.
	SendInvitations bool
	// MaxUploadBytes bounds documents.upload content (default nubiq.DefaultMaxUploadBytes). The
	// HTTP handler's body limit must leave room for it in base64.
	MaxUploadBytes int64
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
	index  map[string]int // catalogue position by name
	deps   *Deps
}

// contractOrder is the order of the tools in the public contract (PRODUCT.md), grouped by
// domain; clients show tools in catalogue order.
var contractOrder = []string{
	"conversations.list", "conversations.get", "conversations.search", "conversations.update_status",
	"conversations.assign", "conversations.reply",
	"tickets.list", "tickets.get", "tickets.create", "tickets.update", "tickets.close",
	"documents.list", "documents.search", "documents.upload", "documents.delete", "documents.reindex",
	"contacts.list", "contacts.get", "contacts.search",
	"analytics.overview", "analytics.conversations", "analytics.satisfaction",
	"channels.list", "channels.get", "channels.send",
	"widget.list", "widget.get", "widget.update",
	"team.members", "team.invite",
}

// NewRegistry builds every tool on deps.
func NewRegistry(deps *Deps) *Registry {
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Registry{byName: map[string]*Tool{}, index: map[string]int{}, deps: deps}
	var all []*Tool
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
		all = append(all, group...)
	}
	// The contract's tools come first, in its order; tools beyond it follow in group order.
	rank := func(t *Tool) int {
		if i := slices.Index(contractOrder, t.Name); i >= 0 {
			return i
		}
		return len(contractOrder)
	}
	slices.SortStableFunc(all, func(a, b *Tool) int { return rank(a) - rank(b) })
	for _, t := range all {
		if _, dup := r.byName[t.Name]; dup {
			panic("duplicate tool " + t.Name)
		}
		if !t.Scope.Valid() {
			panic(fmt.Sprintf("tool %s: invalid scope %q", t.Name, t.Scope))
		}
		r.index[t.Name] = len(r.tools)
		r.tools = append(r.tools, t)
		r.byName[t.Name] = t
	}
	return r
}

// Tools returns the tools in catalogue order.
func (r *Registry) Tools() []*Tool { return r.tools }

// Lookup returns the named tool or nil.
func (r *Registry) Lookup(name string) *Tool { return r.byName[name] }

// Call runs a tool as the caller, checking the scope first. It is the one path every tool
// call takes, from MCP or elsewhere, so that scope refusal and the audit log of write tools
// hold for every tool alike.
func (r *Registry) Call(ctx context.Context, caller *nubiq.Caller, name string, args json.RawMessage) (any, error) {
	t := r.byName[name]
	if t == nil {
		return nil, nubiq.NotFoundf("unknown tool %q", name)
	}
	var out any
	var err error
	if !caller.Has(t.Scope) {
		err = nubiq.Errorf(nubiq.ECodeForbidden, "tool %s needs scope %s, which this API key does not have", t.Name, t.Scope)
	} else {
		out, err = r.safeCall(ctx, caller, t, args)
		// A broken or refused database connection is worth a retry, not a bug report.
		err = postgres.Unavailable(err)
	}
	if !t.ReadOnly {
		r.audit(ctx, caller, t, args, out, err)
	}
	return out, err
}

// safeCall runs the tool, turning a panic into an internal error: one bad input must not
// drop the client's connection without an answer.
func (r *Registry) safeCall(ctx context.Context, caller *nubiq.Caller, t *Tool, args json.RawMessage) (out any, err error) {
	defer func() {
		if p := recover(); p != nil {
			r.deps.Logger.Error("tool panicked", "tool", t.Name, "workspace", caller.WorkspaceID, "panic", p, "stack", string(debug.Stack()))
			out, err = nil, nubiq.Errorf(nubiq.ECodeInternal, "tool %s failed unexpectedly; the error was logged", t.Name)
		}
	}()
	return t.call(nubiq.NewContextWithCaller(ctx, caller), args)
}

// audit records a write tool call: refused, failed or done. The row holds the target id, never
// the arguments, which may carry personal data or credentials.
func (r *Registry) audit(ctx context.Context, caller *nubiq.Caller, t *Tool, args json.RawMessage, out any, callErr error) {
	if r.deps.DB == nil || caller == nil {
		return
	}
	outcome := "ok"
	if callErr != nil {
		outcome = nubiq.ErrorCode(callErr)
	}
	e := nubiq.AuditEntry{
		WorkspaceID: caller.WorkspaceID, KeyID: caller.KeyID, Actor: caller.KeyPrefix,
		Action: t.Name, Target: auditTarget(args, out), Outcome: outcome, CreatedAt: r.deps.now(),
	}
	// The call has happened: record it even when the client has gone away meanwhile.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := r.deps.DB.InsertAudit(actx, e); err != nil {
		r.deps.Logger.Error("audit log", "tool", t.Name, "workspace", caller.WorkspaceID, "err", err)
	}
}

// auditTarget is the id the call acted on: its "id" argument, else the "id" of its result
// (what a create made).
func auditTarget(args json.RawMessage, out any) string {
	var in map[string]json.RawMessage
	if json.Unmarshal(args, &in) == nil {
		if v := scalarID(in["id"]); v != "" {
			return v
		}
	}
	if out != nil {
		if b, err := json.Marshal(out); err == nil {
			var res map[string]json.RawMessage
			if json.Unmarshal(b, &res) == nil {
				return scalarID(res["id"])
			}
		}
	}
	return ""
}

func scalarID(raw json.RawMessage) string {
	var v any
	if len(raw) == 0 || json.Unmarshal(raw, &v) != nil {
		return ""
	}
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case float64:
		s = string(raw)
	default:
		return ""
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// errNotAvailable answers calls to tools whose behaviour has not shipped in this build.
func errNotAvailable(name string) error {
	return nubiq.Errorf(nubiq.ECodeUnavailable, "tool %s is not available yet in this version of Nubiq Hub", name)
}
