package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/nubiq/hub"
)

const contactColumns = `c.id, coalesce(c.external_id, ''), c.name, coalesce(c.email, ''), coalesce(c.phone, ''),
	c.company, c.custom_attributes, c.last_seen_at, c.created_at, c.updated_at`

func scanContact(row pgx.Row) (*nubiq.Contact, error) {
	var c nubiq.Contact
	err := row.Scan(&c.ID, &c.ExternalID, &c.Name, &c.Email, &c.Phone, &c.Company, &c.CustomAttributes,
		&c.LastSeenAt, &c.CreatedAt, &c.UpdatedAt)
	if err != nil {
		return nil, err
	}
	utcContact(&c)
	return &c, nil
}

func utcContact(c *nubiq.Contact) {
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	if c.LastSeenAt != nil {
		t := c.LastSeenAt.UTC()
		c.LastSeenAt = &t
	}
	if c.CustomAttributes == nil {
		c.CustomAttributes = map[string]any{}
	}
}

// ListContacts returns a page of the workspace's contacts, newest first (created_at, then
// id, descending), and the cursor of the next page ("" at the end).
func (db *DB) ListContacts(ctx context.Context, workspaceID int64, f nubiq.ContactFilter) ([]*nubiq.Contact, string, error) {
	var where []string
	args := []any{workspaceID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	where = append(where, "c.workspace_id = $1")
	if f.Company != "" {
		where = append(where, "lower(c.company) = lower("+arg(f.Company)+")")
	}
	if !f.Created.From.IsZero() {
		where = append(where, "c.created_at >= "+arg(f.Created.From))
	}
	if !f.Created.To.IsZero() {
		where = append(where, "c.created_at < "+arg(f.Created.To))
	}
	if f.HasEmail != nil {
		cond := "c.email IS NOT NULL AND c.email <> ''"
		if !*f.HasEmail {
			cond = "(c.email IS NULL OR c.email = '')"
		}
		where = append(where, cond)
	}
	if f.HasPhone != nil {
		cond := "c.phone IS NOT NULL AND c.phone <> ''"
		if !*f.HasPhone {
			cond = "(c.phone IS NULL OR c.phone = '')"
		}
		where = append(where, cond)
	}
	if f.After != nil {
		where = append(where, "(c.created_at, c.id) < ("+arg(f.After.Time)+", "+arg(f.After.ID)+")")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = nubiq.DefaultPageSize
	}
	q := `SELECT ` + contactColumns + ` FROM contacts c WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY c.created_at DESC, c.id DESC LIMIT ` + arg(limit+1)
	rows, err := db.Pool.Query(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list contacts: %w", unavailable(err))
	}
	out, next, err := collectPage(rows, limit, scanContact,
		func(c *nubiq.Contact) nubiq.Cursor {
			return nubiq.Cursor{Kind: nubiq.ContactCursorKind, Time: c.CreatedAt, ID: c.ID}
		})
	if err != nil {
		return nil, "", fmt.Errorf("list contacts: %w", err)
	}
	return out, next, nil
}

// ContactDetail returns a contact of the workspace with its most recently updated
// conversations and its newest open tickets (status neither solved nor closed). A contact of
// another workspace is not found, like a missing one.
func (db *DB) ContactDetail(ctx context.Context, workspaceID, contactID int64) (*nubiq.ContactDetail, error) {
	// One snapshot, so that the contact and its lists agree with each other.
	var d *nubiq.ContactDetail
	err := pgx.BeginTxFunc(ctx, db.Pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		c, err := scanContact(tx.QueryRow(ctx, `SELECT `+contactColumns+` FROM contacts c
			WHERE c.workspace_id = $1 AND c.id = $2`, workspaceID, contactID))
		if errors.Is(err, pgx.ErrNoRows) {
			return nubiq.NotFoundf("no contact %d in this workspace", contactID)
		} else if err != nil {
			return err
		}
		d = &nubiq.ContactDetail{Contact: *c}

		rows, err := tx.Query(ctx, `
			SELECT id, subject, status, updated_at FROM conversations
			WHERE workspace_id = $1 AND contact_id = $2
			ORDER BY updated_at DESC, id DESC LIMIT $3`, workspaceID, contactID, nubiq.ContactRecentConversations)
		if err != nil {
			return err
		}
		d.RecentConversations, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (nubiq.ContactConversation, error) {
			var cv nubiq.ContactConversation
			err := r.Scan(&cv.ID, &cv.Subject, &cv.Status, &cv.UpdatedAt)
			cv.UpdatedAt = cv.UpdatedAt.UTC()
			return cv, err
		})
		if err != nil {
			return err
		}

		rows, err = tx.Query(ctx, `
			SELECT id, subject, status, priority, created_at, updated_at, count(*) OVER ()
			FROM tickets
			WHERE workspace_id = $1 AND contact_id = $2 AND status NOT IN ('solved', 'closed')
			ORDER BY created_at DESC, id DESC LIMIT $3`, workspaceID, contactID, nubiq.ContactOpenTickets)
		if err != nil {
			return err
		}
		d.OpenTickets, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (nubiq.ContactTicket, error) {
			var tk nubiq.ContactTicket
			err := r.Scan(&tk.ID, &tk.Subject, &tk.Status, &tk.Priority, &tk.CreatedAt, &tk.UpdatedAt, &d.OpenTicketsTotal)
			tk.CreatedAt, tk.UpdatedAt = tk.CreatedAt.UTC(), tk.UpdatedAt.UTC()
			return tk, err
		})
		return err
	})
	if err != nil {
		if nubiq.ErrorCode(err) == nubiq.ECodeNotFound {
			return nil, err
		}
		return nil, fmt.Errorf("get contact %d: %w", contactID, unavailable(err))
	}
	if d.RecentConversations == nil {
		d.RecentConversations = []nubiq.ContactConversation{}
	}
	if d.OpenTickets == nil {
		d.OpenTickets = []nubiq.ContactTicket{}
	}
	return d, nil
}
