package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/nubiq/hub"
)

const widgetColumns = `w.id, w.name, w.channel_id, w.settings, w.created_at, w.updated_at`

func scanWidget(row pgx.Row) (*nubiq.Widget, error) {
	var (
		w         nubiq.Widget
		channelID *int64
		settings  []byte
	)
	if err := row.Scan(&w.ID, &w.Name, &channelID, &settings, &w.CreatedAt, &w.UpdatedAt); err != nil {
		return nil, err
	}
	if channelID != nil {
		w.ChannelID = *channelID
	}
	// Stored settings are decoded leniently: keys this version does not know are ignored
	// rather than making the widget unreadable.
	if err := json.Unmarshal(settings, &w.Settings); err != nil {
		return nil, fmt.Errorf("decode settings of widget %d: %w", w.ID, err)
	}
	w.Settings = w.Settings.WithDefaults()
	w.CreatedAt, w.UpdatedAt = w.CreatedAt.UTC(), w.UpdatedAt.UTC()
	return &w, nil
}

// ListWidgets lists the workspace's widgets in creation order, a page at a time.
func (db *DB) ListWidgets(ctx context.Context, workspaceID int64, cursor string, limit int) ([]*nubiq.Widget, string, error) {
	limit, err := nubiq.PageLimit(limit)
	if err != nil {
		return nil, "", err
	}
	cur, err := nubiq.DecodeCursor("widgets", cursor)
	if err != nil {
		return nil, "", err
	}
	var after int64
	if cur != nil {
		after = cur.ID
	}
	rows, err := db.Pool.Query(ctx, `
		SELECT `+widgetColumns+` FROM widget_configs w
		WHERE w.workspace_id = $1 AND w.id > $2 ORDER BY w.id LIMIT $3`, workspaceID, after, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list widgets: %w", unavailable(err))
	}
	out, next, err := collectPage(rows, limit, scanWidget,
		func(w *nubiq.Widget) nubiq.Cursor { return nubiq.Cursor{Kind: "widgets", ID: w.ID} })
	if err != nil {
		return nil, "", fmt.Errorf("list widgets: %w", err)
	}
	return out, next, nil
}

// Widget returns one widget of the workspace.
func (db *DB) Widget(ctx context.Context, workspaceID, id int64) (*nubiq.Widget, error) {
	w, err := scanWidget(db.Pool.QueryRow(ctx, `SELECT `+widgetColumns+` FROM widget_configs w WHERE w.workspace_id = $1 AND w.id = $2`, workspaceID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nubiq.NotFoundf("no widget %d in this workspace", id)
	} else if err != nil {
		return nil, fmt.Errorf("get widget %d: %w", id, unavailable(err))
	}
	return w, nil
}

// CreateWidget creates a widget, optionally tied to a channel of the same workspace.
func (db *DB) CreateWidget(ctx context.Context, workspaceID int64, name string, channelID int64, settings nubiq.WidgetSettings) (*nubiq.Widget, error) {
	var ch *int64
	if channelID != 0 {
		ch = &channelID
	}
	w, err := scanWidget(db.Pool.QueryRow(ctx, `
		INSERT INTO widget_configs AS w (workspace_id, name, channel_id, settings)
		SELECT $1, $2, $3, $4
		WHERE $3::bigint IS NULL OR EXISTS (SELECT 1 FROM channels WHERE workspace_id = $1 AND id = $3)
		RETURNING `+widgetColumns, workspaceID, name, ch, settings))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nubiq.NotFoundf("no channel %d in this workspace", channelID)
	} else if err != nil {
		return nil, fmt.Errorf("create widget: %w", unavailable(err))
	}
	return w, nil
}

// UpdateWidget applies a validated partial update to a widget and returns the new
// configuration. The row is locked while the settings are merged, so that concurrent partial
// updates of different settings both survive.
func (db *DB) UpdateWidget(ctx context.Context, workspaceID, id int64, p *nubiq.WidgetPatch) (*nubiq.Widget, error) {
	var w *nubiq.Widget
	err := db.InTx(ctx, func(tx pgx.Tx) error {
		var raw []byte
		err := tx.QueryRow(ctx, `SELECT settings FROM widget_configs WHERE workspace_id = $1 AND id = $2 FOR UPDATE`, workspaceID, id).Scan(&raw)
		if errors.Is(err, pgx.ErrNoRows) {
			return nubiq.NotFoundf("no widget %d in this workspace", id)
		} else if err != nil {
			return err
		}
		// Merge into the stored object so that keys this version does not model survive.
		var stored map[string]json.RawMessage
		if err := json.Unmarshal(raw, &stored); err != nil {
			return fmt.Errorf("decode settings of widget %d: %w", id, err)
		}
		var cur nubiq.WidgetSettings
		if err := json.Unmarshal(raw, &cur); err != nil {
			return fmt.Errorf("decode settings of widget %d: %w", id, err)
		}
		next, err := json.Marshal(cur.Apply(p))
		if err != nil {
			return err
		}
		var nextMap map[string]json.RawMessage
		if err := json.Unmarshal(next, &nextMap); err != nil {
			return err
		}
		if stored == nil {
			stored = map[string]json.RawMessage{}
		}
		if p.BusinessHours != nil {
			delete(stored, "business_hours") // nextMap omits it when business hours were removed
		}
		for k, v := range nextMap {
			stored[k] = v
		}
		w, err = scanWidget(tx.QueryRow(ctx, `
			UPDATE widget_configs AS w SET settings = $3, name = coalesce($4, name), updated_at = now()
			WHERE w.workspace_id = $1 AND w.id = $2
			RETURNING `+widgetColumns, workspaceID, id, stored, p.Name))
		return err
	})
	if err != nil {
		if nubiq.ErrorCode(err) != nubiq.ECodeInternal {
			return nil, err
		}
		return nil, fmt.Errorf("update widget %d: %w", id, unavailable(err))
	}
	return w, nil
}
