package nubiq

import (
	"slices"
	"strings"
)

// Scope is a permission an API key carries, named domain:access.
type Scope string

// The 16 scopes of the public contract.
const (
	ScopeConversationsRead  Scope = "conversations:read"
	ScopeConversationsWrite Scope = "conversations:write"
	ScopeTicketsRead        Scope = "tickets:read"
	ScopeTicketsWrite       Scope = "tickets:write"
	ScopeDocumentsRead      Scope = "documents:read"
	ScopeDocumentsWrite     Scope = "documents:write"
	ScopeContactsRead       Scope = "contacts:read"
	ScopeAnalyticsRead      Scope = "analytics:read"
	ScopeChannelsRead       Scope = "channels:read"
	ScopeChannelsWrite      Scope = "channels:write"
	ScopeWidgetRead         Scope = "widget:read"
	ScopeWidgetWrite        Scope = "widget:write"
	ScopeBillingRead        Scope = "billing:read"
	ScopeTeamRead           Scope = "team:read"
	ScopeTeamWrite          Scope = "team:write"
	ScopeNotificationsRead  Scope = "notifications:read"
)

// AllScopes lists every scope in the order of the public contract.
var AllScopes = []Scope{
	ScopeConversationsRead, ScopeConversationsWrite,
	ScopeTicketsRead, ScopeTicketsWrite,
	ScopeDocumentsRead, ScopeDocumentsWrite,
	ScopeContactsRead, ScopeAnalyticsRead,
	ScopeChannelsRead, ScopeChannelsWrite,
	ScopeWidgetRead, ScopeWidgetWrite,
	ScopeBillingRead, ScopeTeamRead, ScopeTeamWrite,
	ScopeNotificationsRead,
}

// ScopeDescriptions says what each scope grants.
var ScopeDescriptions = map[Scope]string{
	ScopeConversationsRead:  "read conversations and messages",
	ScopeConversationsWrite: "reply, assign, close conversations",
	ScopeTicketsRead:        "read tickets",
	ScopeTicketsWrite:       "create and update tickets",
	ScopeDocumentsRead:      "list and search documents",
	ScopeDocumentsWrite:     "upload, delete, reindex documents",
	ScopeContactsRead:       "read contact profiles",
	ScopeAnalyticsRead:      "read analytics and metrics",
	ScopeChannelsRead:       "read channel configs",
	ScopeChannelsWrite:      "send messages to channels",
	ScopeWidgetRead:         "read widget configs",
	ScopeWidgetWrite:        "update widget settings",
	ScopeBillingRead:        "read billing and usage",
	ScopeTeamRead:           "list team members",
	ScopeTeamWrite:          "invite members, manage roles",
	ScopeNotificationsRead:  "read notification events",
}

// Valid reports whether s is one of the known scopes.
func (s Scope) Valid() bool { return slices.Contains(AllScopes, s) }

// ParseScopes parses a comma-separated list of scopes. "all" (or "*") stands for every scope.
// Duplicates are dropped; the result follows the order of AllScopes.
func ParseScopes(list string) ([]Scope, error) {
	set := map[Scope]bool{}
	for _, part := range strings.Split(list, ",") {
		part = strings.TrimSpace(part)
		switch {
		case part == "":
			continue
		case part == "all" || part == "*":
			for _, s := range AllScopes {
				set[s] = true
			}
		case Scope(part).Valid():
			set[Scope(part)] = true
		default:
			return nil, Invalidf("scopes", "unknown scope %q; allowed: %s, or all", part, joinScopes(AllScopes))
		}
	}
	if len(set) == 0 {
		return nil, Invalidf("scopes", "at least one scope is required; allowed: %s, or all", joinScopes(AllScopes))
	}
	var out []Scope
	for _, s := range AllScopes {
		if set[s] {
			out = append(out, s)
		}
	}
	return out, nil
}

func joinScopes(scopes []Scope) string {
	parts := make([]string, len(scopes))
	for i, s := range scopes {
		parts[i] = string(s)
	}
	return strings.Join(parts, ", ")
}

// ScopeStrings converts scopes to strings, for storage.
func ScopeStrings(scopes []Scope) []string {
	out := make([]string, len(scopes))
	for i, s := range scopes {
		out[i] = string(s)
	}
	return out
}
