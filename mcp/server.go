package mcp

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/nubiq/hub"
)

// Version is reported to clients in serverInfo.
var Version = "0.1.0"

const instructions = `Nubiq Hub is a knowledge and support workspace. Use documents.search to answer questions ` +
	`from the knowledge base, conversations.* and tickets.* to read and act on support work, contacts.* ` +
	`for customer profiles and analytics.* for metrics. Lists are paged: pass next_cursor back as cursor. ` +
	`Tools you do not see are outside this API key's scopes.`

// newSDKServer builds the MCP server with every tool of the registry. tools/list is filtered
// by the caller's scopes in middleware, per request; tools/call is refused by Registry.Call.
func newSDKServer(r *Registry, logger *slog.Logger) *sdk.Server {
	s := sdk.NewServer(&sdk.Implementation{Name: serverName, Title: serverTitle, Version: Version},
		&sdk.ServerOptions{Instructions: instructions, Logger: logger,
			// The SDK answers prompts/list (with no prompts) whatever is declared, and a
			// 2026-07-28 server must declare every capability it answers for; so say it, with
			// the SDK's default logging capability beside it. The tool list never changes
			// while the server runs, so no list-changed notifications are promised.
			Capabilities: &sdk.ServerCapabilities{Logging: &sdk.LoggingCapabilities{}, Prompts: &sdk.PromptCapabilities{}, Tools: &sdk.ToolCapabilities{}},
			// What tools/list returns depends on the API key, so no shared cache may keep it.
			SetCacheable: func(_ context.Context, _ sdk.Request, c *sdk.Cacheable) { c.CacheScope = "private" }})
	for _, t := range r.tools {
		s.AddTool(t.sdkTool(), r.sdkHandler(t, logger))
	}
	s.AddReceivingMiddleware(scopeMiddleware(r))
	return s
}

func (t *Tool) sdkTool() *sdk.Tool {
	readOnly := t.ReadOnly
	destructive := t.Destructive
	openWorld := t.OpenWorld
	return &sdk.Tool{
		Name:        t.Name,
		Title:       t.Title,
		Description: t.Description,
		// Encoded once here: marshalling jsonschema.Schema values is reflective and slow, and
		// tools/list would otherwise pay it for every tool on every request (~10 ms).
		InputSchema:  mustJSON(t.InputSchema),
		OutputSchema: mustJSON(t.OutputSchema),
		Annotations: &sdk.ToolAnnotations{
			Title:           t.Title,
			ReadOnlyHint:    readOnly,
			DestructiveHint: &destructive,
			IdempotentHint:  t.Idempotent || readOnly,
			OpenWorldHint:   &openWorld,
		},
	}
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// callerFrom finds the authenticated caller of an MCP request.
func callerFrom(ctx context.Context, req sdk.Request) *nubiq.Caller {
	if c := nubiq.CallerFromContext(ctx); c != nil {
		return c
	}
	if extra := req.GetExtra(); extra != nil && extra.TokenInfo != nil {
		if c, ok := extra.TokenInfo.Extra[callerExtraKey].(*nubiq.Caller); ok {
			return c
		}
	}
	return nil
}

const callerExtraKey = "nubiq.caller"

func (r *Registry) sdkHandler(t *Tool, logger *slog.Logger) sdk.ToolHandler {
	return func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		caller := callerFrom(ctx, req)
		if caller == nil {
			return errorResult(nubiq.Errorf(nubiq.ECodeUnauthorized, "no authenticated caller")), nil
		}
		out, err := r.Call(ctx, caller, t.Name, req.Params.Arguments)
		if err != nil {
			if nubiq.ErrorCode(err) == nubiq.ECodeInternal {
				logger.Error("tool failed", "tool", t.Name, "workspace", caller.WorkspaceID, "key", caller.KeyPrefix, "err", err)
			}
			return errorResult(err), nil
		}
		b, err := json.Marshal(out)
		if err != nil {
			logger.Error("encode tool result", "tool", t.Name, "err", err)
			return errorResult(err), nil
		}
		return &sdk.CallToolResult{
			Content:           []sdk.Content{&sdk.TextContent{Text: string(b)}},
			StructuredContent: json.RawMessage(b),
		}, nil
	}
}

// ToolError is the JSON body of a tool error result.
type ToolError struct {
	Error ToolErrorBody `json:"error"`
}

// ToolErrorBody says what went wrong in terms a client can act on.
type ToolErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func errorResult(err error) *sdk.CallToolResult {
	b, _ := json.Marshal(ToolError{Error: ToolErrorBody{
		Code: nubiq.ErrorCode(err), Message: nubiq.ErrorMessage(err), Field: nubiq.ErrorField(err),
	}})
	return &sdk.CallToolResult{IsError: true, Content: []sdk.Content{&sdk.TextContent{Text: string(b)}}}
}

// scopeMiddleware lists only the tools the caller's scopes allow, in catalogue order (the SDK
// sorts by name). Calls are refused by Registry.Call, which every call goes through, so that
// both ways of answering a call (the SDK and the fast path) refuse alike.
func scopeMiddleware(r *Registry) sdk.Middleware {
	return func(next sdk.MethodHandler) sdk.MethodHandler {
		return func(ctx context.Context, method string, req sdk.Request) (sdk.Result, error) {
			res, err := next(ctx, method, req)
			if err != nil || method != "tools/list" {
				return res, err
			}
			caller := callerFrom(ctx, req)
			if lr, ok := res.(*sdk.ListToolsResult); ok {
				kept := lr.Tools[:0:0]
				for _, t := range lr.Tools {
					if rt := r.byName[t.Name]; rt != nil && caller.Has(rt.Scope) {
						kept = append(kept, t)
					}
				}
				slices.SortStableFunc(kept, func(a, b *sdk.Tool) int { return r.index[a.Name] - r.index[b.Name] })
				lr.Tools = kept
			}
			return res, nil
		}
	}
}
