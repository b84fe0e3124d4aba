package mcp

import (
	"context"
	"slices"
	"strings"

	"github.com/nubiq/hub"
)

func notificationTools(d *Deps) []*Tool {
	return []*Tool{
		NewTool(ToolSpec{Name: "notifications.list", Title: "List notification events", Scope: nubiq.ScopeNotificationsRead, ReadOnly: true,
			Description: "Notification events (conversation assigned, ticket created or closed, document failed to index, invitation accepted), oldest first after the since cursor: poll with the returned next_since to get what is new." +
				" Omit since to start from the oldest event kept. has_more says that more events are ready now; otherwise poll again later with next_since."},
			d.listNotifications).
			Enum("kinds", nubiq.NotificationKinds...),
	}
}

type listNotificationsIn struct {
	Since string   `json:"since,omitempty" jsonschema:"next_since of the previous call, unchanged; omit to start from the oldest event kept"`
	Kinds []string `json:"kinds,omitempty" jsonschema:"only events of these kinds; default all"`
	Limit int      `json:"limit,omitempty" jsonschema:"most events to return, 1 to 100; default 20"`
}

type listNotificationsOut struct {
	Events    []nubiq.Notification `json:"events" jsonschema:"events after since, oldest first"`
	NextSince string               `json:"next_since" jsonschema:"pass as since on the next call to get only newer events; empty only while the workspace has no events"`
	HasMore   bool                 `json:"has_more" jsonschema:"more events are ready: call again at once with next_since"`
}

func (d *Deps) listNotifications(ctx context.Context, in listNotificationsIn) (listNotificationsOut, error) {
	var out listNotificationsOut
	if d.DB == nil {
		return out, errNotAvailable("notifications.list")
	}
	var f nubiq.NotificationFilter
	var err error
	if f.Limit, err = nubiq.PageLimit(in.Limit); err != nil {
		return out, err
	}
	if f.After, err = nubiq.DecodeCursor(nubiq.NotificationCursorKind, in.Since); err != nil {
		return out, nubiq.Invalidf("since", "not a valid position; pass next_since back unchanged, or omit it to start from the oldest event")
	}
	for _, k := range in.Kinds {
		if !slices.Contains(nubiq.NotificationKinds, k) {
			return out, nubiq.Invalidf("kinds", "unknown kind %q; allowed: %s", k, strings.Join(nubiq.NotificationKinds, ", "))
		}
		if !slices.Contains(f.Kinds, k) {
			f.Kinds = append(f.Kinds, k)
		}
	}
	events, next, more, err := d.DB.ListNotifications(ctx, nubiq.CallerFromContext(ctx).WorkspaceID, f)
	if err != nil {
		return out, err
	}
	out.Events, out.HasMore = events, more
	if next != nil {
		out.NextSince = next.Encode()
	}
	return out, nil
}
