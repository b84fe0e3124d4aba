package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/nubiq/hub"
)

// channelColumns are the public columns of a channel. channel_secrets is never joined here:
// read paths cannot return what they do not select.
const channelColumns = `c.id, c.kind, c.name, c.config, c.enabled, c.created_at, c.updated_at`

func scanChannel(row pgx.Row) (*nubiq.Channel, error) {
	var c nubiq.Channel
	var config []byte
	if err := row.Scan(&c.ID, &c.Kind, &c.Name, &config, &c.Enabled, &c.CreatedAt, &c.UpdatedAt); err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(config, &m); err != nil {
		return nil, fmt.Errorf("decode config of channel %d: %w", c.ID, err)
	}
	c.Config = nubiq.PublicConfig(m)
	c.DeliveryDriver = nubiq.DeliveryDriver(c.Kind)
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return &c, nil
}

// ChannelFilter selects channels for ListChannels.
type ChannelFilter struct {
	Kind    string
	Enabled *bool
	Cursor  string
	Limit   int
}

// ListChannels lists the workspace's channels in creation order, a page at a time.
func (db *DB) ListChannels(ctx context.Context, workspaceID int64, f ChannelFilter) ([]*nubiq.Channel, string, error) {
	limit, err := nubiq.PageLimit(f.Limit)
	if err != nil {
		return nil, "", err
	}
	cur, err := nubiq.DecodeCursor("channels", f.Cursor)
	if err != nil {
		return nil, "", err
	}
	var after int64
	if cur != nil {
		after = cur.ID
	}
	rows, err := db.Pool.Query(ctx, `
		SELECT `+channelColumns+` FROM channels c
		WHERE c.workspace_id = $1 AND c.id > $2
		  AND ($3 = '' OR c.kind = $3) AND ($4::boolean IS NULL OR c.enabled = $4)
		ORDER BY c.id LIMIT $5`, workspaceID, after, f.Kind, f.Enabled, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list channels: %w", unavailable(err))
	}
	out, next, err := collectPage(rows, limit, scanChannel,
		func(c *nubiq.Channel) nubiq.Cursor { return nubiq.Cursor{Kind: "channels", ID: c.ID} })
	if err != nil {
		return nil, "", fmt.Errorf("list channels: %w", err)
	}
	return out, next, nil
}

// Channel returns one channel of the workspace, without its credentials.
func (db *DB) Channel(ctx context.Context, workspaceID, id int64) (*nubiq.Channel, error) {
	c, err := scanChannel(db.Pool.QueryRow(ctx, `SELECT `+channelColumns+` FROM channels c WHERE c.workspace_id = $1 AND c.id = $2`, workspaceID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nubiq.NotFoundf("no channel %d in this workspace", id)
	} else if err != nil {
		return nil, fmt.Errorf("get channel %d: %w", id, unavailable(err))
	}
	return c, nil
}

// ChannelDeliveryStats counts a channel's outbound messages by status since a time and gives
// the latest failure, so that a client can tell whether a channel actually delivers.
func (db *DB) ChannelDeliveryStats(ctx context.Context, workspaceID, channelID int64, since time.Time) (*nubiq.DeliveryStats, error) {
	s := nubiq.DeliveryStats{Since: since.UTC()}
	err := db.Pool.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE status = 'queued'), count(*) FILTER (WHERE status = 'sent'),
		       count(*) FILTER (WHERE status = 'failed')
		FROM outbound_messages WHERE workspace_id = $1 AND channel_id = $2 AND created_at >= $3`,
		workspaceID, channelID, since).Scan(&s.Queued, &s.Sent, &s.Failed)
	if err != nil {
		return nil, fmt.Errorf("delivery stats of channel %d: %w", channelID, unavailable(err))
	}
	var at time.Time
	err = db.Pool.QueryRow(ctx, `
		SELECT error, updated_at FROM outbound_messages
		WHERE workspace_id = $1 AND channel_id = $2 AND status = 'failed' AND created_at >= $3
		ORDER BY updated_at DESC, id DESC LIMIT 1`, workspaceID, channelID, since).Scan(&s.LastError, &at)
	if err == nil {
		at = at.UTC()
		s.LastFailedAt = &at
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("last failure of channel %d: %w", channelID, unavailable(err))
	}
	return &s, nil
}

// CreateChannelParams describes a new channel. Secrets (webhook_secret, username, password…)
// are stored apart from the public config.
type CreateChannelParams struct {
	Kind    string
	Name    string
	Config  map[string]any
	Secrets map[string]string
	// Disabled creates the channel switched off.
	Disabled bool
}

// CreateChannel creates a channel and its secrets.
func (db *DB) CreateChannel(ctx context.Context, workspaceID int64, p CreateChannelParams) (*nubiq.Channel, error) {
	if p.Config == nil {
		p.Config = map[string]any{}
	}
	if p.Secrets == nil {
		p.Secrets = map[string]string{}
	}
	for k := range p.Config {
		if nubiq.IsCredentialKey(k) {
			return nil, nubiq.Invalidf("config", "%q looks like a credential: put it in the channel's secrets, never in its public config", k)
		}
	}
	var c *nubiq.Channel
	err := db.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		c, err = scanChannel(tx.QueryRow(ctx, `
			INSERT INTO channels AS c (workspace_id, kind, name, config, enabled) VALUES ($1, $2, $3, $4, $5)
			RETURNING `+channelColumns, workspaceID, p.Kind, p.Name, p.Config, !p.Disabled))
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO channel_secrets (channel_id, workspace_id, secrets) VALUES ($1, $2, $3)`, c.ID, workspaceID, p.Secrets)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create channel: %w", unavailable(err))
	}
	return c, nil
}

// SendParams is an outbound message to queue.
type SendParams struct {
	ChannelID int64
	Recipient string
	Subject   string
	Body      string
}

// QueueOutbound validates an outbound message for its channel and stores it as queued together
// with its delivery job, in one transaction: either both exist or neither.
func (db *DB) QueueOutbound(ctx context.Context, workspaceID int64, p SendParams) (*nubiq.OutboundMessage, error) {
	if strings.TrimSpace(p.Body) == "" {
		return nil, nubiq.Invalidf("body", "is required")
	}
	if n := utf8.RuneCountInString(p.Body); n > nubiq.MaxOutboundBody {
		return nil, nubiq.Invalidf("body", "must be at most %d characters, got %d", nubiq.MaxOutboundBody, n)
	}
	if !utf8.ValidString(p.Body) || strings.ContainsRune(p.Body, 0) {
		return nil, nubiq.Invalidf("body", "must be UTF-8 text without NUL characters")
	}
	var m *nubiq.OutboundMessage
	err := db.InTx(ctx, func(tx pgx.Tx) error {
		var (
			kind      string
			enabled   bool
			configRaw []byte
			hasSecret bool
		)
		err := tx.QueryRow(ctx, `
			SELECT c.kind, c.enabled, c.config, coalesce(s.secrets ? 'webhook_secret', false)
			FROM channels c LEFT JOIN channel_secrets s ON s.channel_id = c.id AND s.workspace_id = c.workspace_id
			WHERE c.workspace_id = $1 AND c.id = $2
			FOR SHARE OF c`, workspaceID, p.ChannelID).Scan(&kind, &enabled, &configRaw, &hasSecret)
		if errors.Is(err, pgx.ErrNoRows) {
			return nubiq.NotFoundf("no channel %d in this workspace", p.ChannelID)
		} else if err != nil {
			return err
		}
		rcpt, err := nubiq.ParseRecipient(kind, p.Recipient)
		if err != nil {
			return err
		}
		subject, err := checkSubject(kind, p.Subject)
		if err != nil {
			return err
		}
		if !enabled {
			return nubiq.Errorf(nubiq.ECodeConflict, "channel %d is disabled; enable it before sending", p.ChannelID)
		}
		var config map[string]any
		if err := json.Unmarshal(configRaw, &config); err != nil {
			return fmt.Errorf("decode config of channel %d: %w", p.ChannelID, err)
		}
		if problem := deliveryProblem(kind, config, hasSecret); problem != "" {
			return nubiq.Errorf(nubiq.ECodeConflict, "channel %d cannot deliver: %s", p.ChannelID, problem)
		}
		var convID *int64
		if rcpt.ConversationID != 0 {
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM conversations WHERE workspace_id = $1 AND id = $2)`,
				workspaceID, rcpt.ConversationID).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				return nubiq.NotFoundf("no conversation %d in this workspace", rcpt.ConversationID)
			}
			convID = &rcpt.ConversationID
		}
		m, err = scanOutbound(tx.QueryRow(ctx, `
			INSERT INTO outbound_messages (workspace_id, channel_id, conversation_id, recipient, subject, body)
			VALUES ($1, $2, $3, $4, $5, $6)
			RETURNING `+outboundColumns, workspaceID, p.ChannelID, convID, rcpt.Address, subject, p.Body))
		if err != nil {
			return err
		}
		_, err = db.River.InsertTx(ctx, tx, nubiq.DeliverOutboundArgs{OutboundID: m.ID, WorkspaceID: workspaceID}, nil)
		return err
	})
	if err != nil {
		if nubiq.ErrorCode(err) != nubiq.ECodeInternal {
			return nil, err
		}
		return nil, fmt.Errorf("queue outbound message on channel %d: %w", p.ChannelID, unavailable(err))
	}
	return m, nil
}

// checkSubject: email messages need a one-line subject; other kinds have no subject line to
// put it in, so one given there is refused rather than silently dropped.
func checkSubject(kind, subject string) (string, error) {
	subject = strings.TrimSpace(subject)
	if kind != nubiq.ChannelEmail {
		if subject != "" {
			return "", nubiq.Invalidf("subject", "only email channels take a subject; this channel is %s", kind)
		}
		return "", nil
	}
	switch n := utf8.RuneCountInString(subject); {
	case n == 0:
		return "", nubiq.Invalidf("subject", "is required for an email channel")
	case n > nubiq.MaxOutboundSubject:
		return "", nubiq.Invalidf("subject", "must be at most %d characters, got %d", nubiq.MaxOutboundSubject, n)
	case strings.ContainsAny(subject, "\r\n\x00") || !utf8.ValidString(subject):
		return "", nubiq.Invalidf("subject", "must be one line of text")
	}
	return subject, nil
}

// deliveryProblem says what keeps a channel from delivering, or "" when it can.
func deliveryProblem(kind string, config map[string]any, hasWebhookSecret bool) string {
	str := func(k string) string { s, _ := config[k].(string); return s }
	if nubiq.DeliveryDriver(kind) == "smtp" {
		if str("host") == "" {
			return "its config has no SMTP host"
		}
		if _, err := nubiq.ParseEmail(str("from")); err != nil {
			return "its config has no valid from address"
		}
		return ""
	}
	u, err := url.Parse(str("webhook_url"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "its config has no http(s) webhook_url"
	}
	if !hasWebhookSecret {
		return "it has no webhook_secret to sign deliveries with"
	}
	return ""
}

const outboundColumns = `id, channel_id, conversation_id, recipient, subject, body, status, error, attempts, created_at, sent_at, updated_at`

func scanOutbound(row pgx.Row) (*nubiq.OutboundMessage, error) {
	var m nubiq.OutboundMessage
	var convID *int64
	if err := row.Scan(&m.ID, &m.ChannelID, &convID, &m.Recipient, &m.Subject, &m.Body, &m.Status, &m.Error,
		&m.Attempts, &m.CreatedAt, &m.SentAt, &m.UpdatedAt); err != nil {
		return nil, err
	}
	if convID != nil {
		m.ConversationID = *convID
	}
	m.CreatedAt, m.UpdatedAt = m.CreatedAt.UTC(), m.UpdatedAt.UTC()
	if m.SentAt != nil {
		t := m.SentAt.UTC()
		m.SentAt = &t
	}
	return &m, nil
}

// OutboundMessage returns one outbound message of the workspace.
func (db *DB) OutboundMessage(ctx context.Context, workspaceID, id int64) (*nubiq.OutboundMessage, error) {
	m, err := scanOutbound(db.Pool.QueryRow(ctx, `SELECT `+outboundColumns+` FROM outbound_messages WHERE workspace_id = $1 AND id = $2`, workspaceID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nubiq.NotFoundf("no outbound message %d in this workspace", id)
	} else if err != nil {
		return nil, fmt.Errorf("get outbound message %d: %w", id, unavailable(err))
	}
	return m, nil
}

// Delivery is what the delivery worker needs for one outbound message: the message, its
// channel, and the channel's secrets. Only the worker reads it; no tool ever does.
type Delivery struct {
	Message *nubiq.OutboundMessage
	Channel *nubiq.Channel
	// Config is the channel's full stored config (Channel.Config is the public view).
	Config  map[string]any
	Secrets map[string]string
}

// OutboundForDelivery loads an outbound message with its channel and the channel's secrets.
func (db *DB) OutboundForDelivery(ctx context.Context, workspaceID, id int64) (*Delivery, error) {
	m, err := db.OutboundMessage(ctx, workspaceID, id)
	if err != nil {
		return nil, err
	}
	var (
		d          = Delivery{Message: m, Channel: &nubiq.Channel{}}
		configRaw  []byte
		secretsRaw []byte
	)
	c := d.Channel
	err = db.Pool.QueryRow(ctx, `
		SELECT c.id, c.kind, c.name, c.config, c.enabled, c.created_at, c.updated_at, coalesce(s.secrets, '{}'::jsonb)
		FROM channels c LEFT JOIN channel_secrets s ON s.channel_id = c.id AND s.workspace_id = c.workspace_id
		WHERE c.workspace_id = $1 AND c.id = $2`, workspaceID, m.ChannelID,
	).Scan(&c.ID, &c.Kind, &c.Name, &configRaw, &c.Enabled, &c.CreatedAt, &c.UpdatedAt, &secretsRaw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nubiq.NotFoundf("no channel %d in this workspace", m.ChannelID)
	} else if err != nil {
		return nil, fmt.Errorf("load channel %d for delivery: %w", m.ChannelID, unavailable(err))
	}
	if err := json.Unmarshal(configRaw, &d.Config); err != nil {
		return nil, fmt.Errorf("decode config of channel %d: %w", c.ID, err)
	}
	c.Config = nubiq.PublicConfig(d.Config)
	c.DeliveryDriver = nubiq.DeliveryDriver(c.Kind)
	var secrets map[string]any
	if err := json.Unmarshal(secretsRaw, &secrets); err != nil {
		return nil, fmt.Errorf("decode secrets of channel %d: %w", c.ID, err)
	}
	d.Secrets = make(map[string]string, len(secrets))
	for k, v := range secrets {
		if s, ok := v.(string); ok {
			d.Secrets[k] = s
		}
	}
	return &d, nil
}

// BeginOutboundAttempt counts a delivery attempt of a queued message. It reports false when
// the message is no longer queued (already sent or failed), which the worker then skips.
func (db *DB) BeginOutboundAttempt(ctx context.Context, workspaceID, id int64) (bool, error) {
	tag, err := db.Pool.Exec(ctx, `
		UPDATE outbound_messages SET attempts = attempts + 1, updated_at = now()
		WHERE workspace_id = $1 AND id = $2 AND status = 'queued'`, workspaceID, id)
	if err != nil {
		return false, fmt.Errorf("begin delivery attempt of outbound message %d: %w", id, unavailable(err))
	}
	return tag.RowsAffected() == 1, nil
}

// MarkOutboundSent records a successful delivery.
func (db *DB) MarkOutboundSent(ctx context.Context, workspaceID, id int64, at time.Time) error {
	_, err := db.Pool.Exec(ctx, `
		UPDATE outbound_messages SET status = 'sent', sent_at = $3, error = '', updated_at = now()
		WHERE workspace_id = $1 AND id = $2 AND status = 'queued'`, workspaceID, id, at.UTC())
	if err != nil {
		return fmt.Errorf("mark outbound message %d sent: %w", id, unavailable(err))
	}
	return nil
}

// MarkOutboundFailed records that delivery has failed for good, with the reason.
func (db *DB) MarkOutboundFailed(ctx context.Context, workspaceID, id int64, reason string) error {
	_, err := db.Pool.Exec(ctx, `
		UPDATE outbound_messages SET status = 'failed', error = $3, updated_at = now()
		WHERE workspace_id = $1 AND id = $2 AND status = 'queued'`, workspaceID, id, truncateReason(reason, 2000))
	if err != nil {
		return fmt.Errorf("mark outbound message %d failed: %w", id, unavailable(err))
	}
	return nil
}

// RecordOutboundError keeps a message queued for another attempt and records why the last one
// failed.
func (db *DB) RecordOutboundError(ctx context.Context, workspaceID, id int64, reason string) error {
	_, err := db.Pool.Exec(ctx, `
		UPDATE outbound_messages SET error = $3, updated_at = now()
		WHERE workspace_id = $1 AND id = $2 AND status = 'queued'`, workspaceID, id, truncateReason(reason, 2000))
	if err != nil {
		return fmt.Errorf("record error of outbound message %d: %w", id, unavailable(err))
	}
	return nil
}

// truncateReason cuts s to at most n bytes on a rune boundary.
func truncateReason(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
