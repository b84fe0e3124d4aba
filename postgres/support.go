package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/nubiq/hub"
)

// Helpers shared by the support-domain stores (conversations, tickets): reference checks that
// answer not_found naming the input field, notification events and index-log rows.

// supportQuerier is what the support stores run statements on: the pool or a transaction.
type supportQuerier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// refNotFound reports a referenced id that does not exist in the workspace, naming the input
// field that carried it. Ids of other workspaces get the same answer.
func refNotFound(field, format string, args ...any) *nubiq.Error {
	return &nubiq.Error{Code: nubiq.ECodeNotFound, Field: field, Message: fmt.Sprintf(format, args...)}
}

// requireActiveMember checks that member id exists in the workspace and is active: invited
// and disabled members cannot be given work.
func requireActiveMember(ctx context.Context, q supportQuerier, workspaceID, id int64, field string) error {
	var status string
	err := q.QueryRow(ctx, `SELECT status FROM members WHERE workspace_id = $1 AND id = $2`, workspaceID, id).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		return refNotFound(field, "no member %d in this workspace", id)
	} else if err != nil {
		return fmt.Errorf("look up member %d: %w", id, unavailable(err))
	}
	if status != "active" {
		return nubiq.Invalidf(field, "member %d is %s; only active members can be assigned or author replies", id, status)
	}
	return nil
}

// requireTeam checks that team id exists in the workspace.
func requireTeam(ctx context.Context, q supportQuerier, workspaceID, id int64, field string) error {
	var one int
	err := q.QueryRow(ctx, `SELECT 1 FROM teams WHERE workspace_id = $1 AND id = $2`, workspaceID, id).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return refNotFound(field, "no team %d in this workspace", id)
	} else if err != nil {
		return fmt.Errorf("look up team %d: %w", id, unavailable(err))
	}
	return nil
}

// requireContact checks that contact id exists in the workspace.
func requireContact(ctx context.Context, q supportQuerier, workspaceID, id int64, field string) error {
	var one int
	err := q.QueryRow(ctx, `SELECT 1 FROM contacts WHERE workspace_id = $1 AND id = $2`, workspaceID, id).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return refNotFound(field, "no contact %d in this workspace", id)
	} else if err != nil {
		return fmt.Errorf("look up contact %d: %w", id, unavailable(err))
	}
	return nil
}

// requireChannel checks that channel id exists in the workspace.
func requireChannel(ctx context.Context, q supportQuerier, workspaceID, id int64, field string) error {
	var one int
	err := q.QueryRow(ctx, `SELECT 1 FROM channels WHERE workspace_id = $1 AND id = $2`, workspaceID, id).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return refNotFound(field, "no channel %d in this workspace", id)
	} else if err != nil {
		return fmt.Errorf("look up channel %d: %w", id, unavailable(err))
	}
	return nil
}

// requireConversationRef checks that conversation id exists in the workspace and returns its
// contact id (0 when it has none).
func requireConversationRef(ctx context.Context, q supportQuerier, workspaceID, id int64, field string) (int64, error) {
	var contactID *int64
	err := q.QueryRow(ctx, `SELECT contact_id FROM conversations WHERE workspace_id = $1 AND id = $2`, workspaceID, id).Scan(&contactID)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, refNotFound(field, "no conversation %d in this workspace", id)
	} else if err != nil {
		return 0, fmt.Errorf("look up conversation %d: %w", id, unavailable(err))
	}
	if contactID == nil {
		return 0, nil
	}
	return *contactID, nil
}

// emitSupportEvent records a notification event (polled by notifications.list) in the
// transaction of the change it reports.
func emitSupportEvent(ctx context.Context, q supportQuerier, workspaceID int64, kind, subjectType string, subjectID int64, data map[string]any, at time.Time) error {
	b, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", kind, err)
	}
	if _, err := q.Exec(ctx, `
		INSERT INTO notification_events (workspace_id, kind, subject_type, subject_id, data, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, workspaceID, kind, subjectType, subjectID, b, at); err != nil {
		return fmt.Errorf("record %s event: %w", kind, unavailable(err))
	}
	return nil
}

// logSupportIndex appends an index_log row so that every node's search index picks up the
// change; it must run in the transaction of the change.
func logSupportIndex(ctx context.Context, q supportQuerier, workspaceID int64, kind string, entityID int64, op string) error {
	if _, err := q.Exec(ctx, `
		INSERT INTO index_log (workspace_id, kind, entity_id, op) VALUES ($1, $2, $3, $4)`,
		workspaceID, kind, entityID, op); err != nil {
		return fmt.Errorf("append index log (%s %d): %w", kind, entityID, unavailable(err))
	}
	return nil
}

// supportFilter accumulates the WHERE clause and arguments of a filtered list.
type supportFilter struct {
	where []string
	args  []any
}

// add appends a condition in which each "?" stands for the next argument.
func (l *supportFilter) add(cond string, vals ...any) {
	out := make([]byte, 0, len(cond)+8)
	i := 0
	for j := 0; j < len(cond); j++ {
		if cond[j] == '?' {
			l.args = append(l.args, vals[i])
			i++
			out = fmt.Appendf(out, "$%d", len(l.args))
			continue
		}
		out = append(out, cond[j])
	}
	l.where = append(l.where, string(out))
}

func utcOrNil(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
