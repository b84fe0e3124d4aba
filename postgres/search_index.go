package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// The statements a node's search indexes use to follow Postgres: reading the index log in
// commit-safe order, loading the rows a log entry names, scanning a workspace for a rebuild,
// rebuild requests and node status. The log reader is the one statement that is not per
// workspace: a node indexes every workspace. Loaders take the workspace of the log entry.

// LogPosition is a position in the index log: everything at or before it has been applied.
// Entries are ordered by (TxID, Seq); see ReadIndexLog.
type LogPosition struct {
	TxID uint64 `json:"txid"`
	Seq  int64  `json:"seq"`
}

// Less orders positions by transaction id, then sequence.
func (p LogPosition) Less(q LogPosition) bool {
	return p.TxID < q.TxID || p.TxID == q.TxID && p.Seq < q.Seq
}

func (p LogPosition) String() string { return fmt.Sprintf("%d/%d", p.TxID, p.Seq) }

// IndexLogEntry is one row of index_log.
type IndexLogEntry struct {
	Pos         LogPosition
	WorkspaceID int64
	Kind        string // chunk, document, message, conversation, contact
	EntityID    int64
	Op          string // upsert, delete
	CreatedAt   time.Time
}

// IndexLogBatch is what one read of the log returns.
type IndexLogBatch struct {
	// Entries are the committed entries after the read position, in (txid, seq) order.
	Entries []IndexLogEntry
	// Horizon is the xmin of the read's snapshot: every transaction below it has finished,
	// so no entry below it can appear later; entries at or above it are committed (the read
	// saw them) but an unfinished older transaction may still add entries before them.
	Horizon uint64
	// Through is the position up to which the log is read completely: a reader may store it
	// as its checkpoint once it has applied the entries up to it.
	Through LogPosition
}

// Ahead reports whether an entry lies beyond the horizon: applied early for freshness, but
// not yet covered by Through.
func (b *IndexLogBatch) Ahead(e IndexLogEntry) bool { return e.Pos.TxID >= b.Horizon }

// ReadIndexLog returns up to limit committed entries of the given kinds after pos, in
// (txid, seq) order, with the snapshot's xmin as the horizon. Sequence numbers are taken when
// a row is inserted, not when its transaction commits, so a plain "seq > checkpoint" reader
// would skip the entries of a transaction that took a number and committed after a later
// one. Ordering by txid and checkpointing only below the horizon (Through) never skips: an
// unfinished transaction's entries will sort after the checkpoint whenever they appear.
// Entries beyond the horizon are returned too, so that one long transaction elsewhere does
// not hold every index back; the reader applies them early and skips them when they come
// round again below the horizon. workspaceID 0 reads every workspace; a positive one
// restricts the read to that workspace.
func (db *DB) ReadIndexLog(ctx context.Context, kinds []string, pos LogPosition, limit int, workspaceID int64) (*IndexLogBatch, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT h.x::text, l.txid::text, l.seq, l.workspace_id, l.kind, l.entity_id, l.op, l.created_at
		FROM (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS x) h
		LEFT JOIN LATERAL (
			SELECT txid, seq, workspace_id, kind, entity_id, op, created_at
			FROM index_log
			WHERE (txid, seq) > ($1::text::xid8, $2::bigint)
			  AND kind = ANY($3::text[]) AND ($5::bigint = 0 OR workspace_id = $5)
			ORDER BY txid, seq
			LIMIT $4
		) l ON true`, strconv.FormatUint(pos.TxID, 10), pos.Seq, kinds, limit, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("read index log: %w", unavailable(err))
	}
	defer rows.Close()
	b := &IndexLogBatch{}
	for rows.Next() {
		var (
			x               string
			txid, kind, op  *string
			seq, ws, entity *int64
			createdAt       *time.Time
		)
		if err := rows.Scan(&x, &txid, &seq, &ws, &kind, &entity, &op, &createdAt); err != nil {
			return nil, fmt.Errorf("read index log: %w", err)
		}
		if b.Horizon, err = strconv.ParseUint(x, 10, 64); err != nil {
			return nil, fmt.Errorf("read index log: xmin %q: %w", x, err)
		}
		if txid == nil {
			continue // no entries: the LEFT JOIN's empty row
		}
		t, err := strconv.ParseUint(*txid, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("read index log: txid %q: %w", *txid, err)
		}
		b.Entries = append(b.Entries, IndexLogEntry{Pos: LogPosition{TxID: t, Seq: *seq}, WorkspaceID: *ws, Kind: *kind,
			EntityID: *entity, Op: *op, CreatedAt: *createdAt})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read index log: %w", unavailable(err))
	}
	// Entries below the horizon sort first. If the read stopped short of the limit, or
	// reached beyond the horizon, it saw every entry below the horizon: (horizon, 0) sorts
	// after all of them and before any entry still to come (sequences start at 1).
	// Otherwise it is complete up to its last entry.
	b.Through = pos
	n := len(b.Entries)
	switch {
	case n < limit || b.Ahead(b.Entries[n-1]):
		if h := (LogPosition{TxID: b.Horizon}); b.Through.Less(h) {
			b.Through = h
		}
	default:
		b.Through = b.Entries[n-1].Pos
	}
	return b, nil
}

// IndexLogHorizon returns the position from which a reader that starts from a fresh scan of
// the tables must replay the log: every transaction before it has finished, so a scan that
// starts afterwards sees all of their effects.
func (db *DB) IndexLogHorizon(ctx context.Context) (LogPosition, error) {
	var x string
	if err := db.Pool.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text`).Scan(&x); err != nil {
		return LogPosition{}, fmt.Errorf("read index log horizon: %w", unavailable(err))
	}
	t, err := strconv.ParseUint(x, 10, 64)
	if err != nil {
		return LogPosition{}, fmt.Errorf("read index log horizon: %w", err)
	}
	return LogPosition{TxID: t}, nil
}

// IndexLogPending counts the committed entries of the given kinds after pos (including those
// still held back by an unfinished older transaction), for status reports.
func (db *DB) IndexLogPending(ctx context.Context, kinds []string, pos LogPosition) (int64, error) {
	var n int64
	err := db.Pool.QueryRow(ctx, `
		SELECT count(*) FROM index_log
		WHERE (txid, seq) > ($1::text::xid8, $2::bigint) AND kind = ANY($3::text[])`,
		strconv.FormatUint(pos.TxID, 10), pos.Seq, kinds).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count pending index log entries: %w", unavailable(err))
	}
	return n, nil
}

// WorkspaceIDs lists every workspace id in ascending order (for index rebuilds).
func (db *DB) WorkspaceIDs(ctx context.Context) ([]int64, error) {
	rows, err := db.Pool.Query(ctx, `SELECT id FROM workspaces ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list workspace ids: %w", unavailable(err))
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("list workspace ids: %w", err)
	}
	return ids, nil
}

// IndexChunk is a document chunk with the document fields the keyword index needs.
type IndexChunk struct {
	ID          int64
	WorkspaceID int64
	DocumentID  int64
	ChunkIndex  int
	Text        string
	HeadingPath []string
	Title       string
	MimeType    string
	Language    string
	Metadata    map[string]any
	UpdatedAt   time.Time
}

const indexChunkSelect = `
	SELECT c.id, c.workspace_id, c.document_id, c.chunk_index, c.text, c.heading_path,
	       d.title, d.mime_type, d.language, d.metadata, d.updated_at
	FROM document_chunks c
	JOIN documents d ON d.id = c.document_id AND d.workspace_id = c.workspace_id`

func scanIndexChunks(rows pgx.Rows) ([]IndexChunk, error) {
	defer rows.Close()
	var out []IndexChunk
	for rows.Next() {
		var c IndexChunk
		var meta []byte
		if err := rows.Scan(&c.ID, &c.WorkspaceID, &c.DocumentID, &c.ChunkIndex, &c.Text, &c.HeadingPath,
			&c.Title, &c.MimeType, &c.Language, &meta, &c.UpdatedAt); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(meta, &c.Metadata); err != nil {
			return nil, fmt.Errorf("document %d metadata: %w", c.DocumentID, err)
		}
		c.UpdatedAt = c.UpdatedAt.UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}

// IndexChunks loads the workspace's chunks with the given ids; missing ids are left out.
func (db *DB) IndexChunks(ctx context.Context, workspaceID int64, ids []int64) ([]IndexChunk, error) {
	rows, err := db.Pool.Query(ctx, indexChunkSelect+`
		WHERE c.workspace_id = $1 AND c.id = ANY($2::bigint[])`, workspaceID, ids)
	if err != nil {
		return nil, fmt.Errorf("load chunks for index: %w", unavailable(err))
	}
	out, err := scanIndexChunks(rows)
	if err != nil {
		return nil, fmt.Errorf("load chunks for index: %w", err)
	}
	return out, nil
}

// IndexDocumentChunks loads every chunk of the workspace's documents with the given ids.
func (db *DB) IndexDocumentChunks(ctx context.Context, workspaceID int64, documentIDs []int64) ([]IndexChunk, error) {
	rows, err := db.Pool.Query(ctx, indexChunkSelect+`
		WHERE c.workspace_id = $1 AND c.document_id = ANY($2::bigint[])`, workspaceID, documentIDs)
	if err != nil {
		return nil, fmt.Errorf("load document chunks for index: %w", unavailable(err))
	}
	out, err := scanIndexChunks(rows)
	if err != nil {
		return nil, fmt.Errorf("load document chunks for index: %w", err)
	}
	return out, nil
}

// IndexChunksPage returns up to limit chunks of the workspace with ids above afterID, in id
// order, for a rebuild.
func (db *DB) IndexChunksPage(ctx context.Context, workspaceID, afterID int64, limit int) ([]IndexChunk, error) {
	rows, err := db.Pool.Query(ctx, indexChunkSelect+`
		WHERE c.workspace_id = $1 AND c.id > $2 ORDER BY c.id LIMIT $3`, workspaceID, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("scan chunks for index: %w", unavailable(err))
	}
	out, err := scanIndexChunks(rows)
	if err != nil {
		return nil, fmt.Errorf("scan chunks for index: %w", err)
	}
	return out, nil
}

// IndexConversation is a conversation with the fields the conversation index filters on.
type IndexConversation struct {
	ID               int64
	WorkspaceID      int64
	Subject          string
	Status           string
	Priority         string
	ChannelID        int64 // 0 when none
	ContactID        int64
	AssigneeMemberID int64
	AssigneeTeamID   int64
	Tags             []string
	Metadata         map[string]any
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

const indexConversationSelect = `
	SELECT id, workspace_id, subject, status, priority, coalesce(channel_id, 0), coalesce(contact_id, 0),
	       coalesce(assignee_member_id, 0), coalesce(assignee_team_id, 0), tags, metadata, created_at, updated_at
	FROM conversations`

func scanIndexConversations(rows pgx.Rows) ([]IndexConversation, error) {
	defer rows.Close()
	var out []IndexConversation
	for rows.Next() {
		var c IndexConversation
		var meta []byte
		if err := rows.Scan(&c.ID, &c.WorkspaceID, &c.Subject, &c.Status, &c.Priority, &c.ChannelID, &c.ContactID,
			&c.AssigneeMemberID, &c.AssigneeTeamID, &c.Tags, &meta, &c.CreatedAt, &c.UpdatedAt); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(meta, &c.Metadata); err != nil {
			return nil, fmt.Errorf("conversation %d metadata: %w", c.ID, err)
		}
		c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}

// IndexConversations loads the workspace's conversations with the given ids.
func (db *DB) IndexConversations(ctx context.Context, workspaceID int64, ids []int64) ([]IndexConversation, error) {
	rows, err := db.Pool.Query(ctx, indexConversationSelect+` WHERE workspace_id = $1 AND id = ANY($2::bigint[])`, workspaceID, ids)
	if err != nil {
		return nil, fmt.Errorf("load conversations for index: %w", unavailable(err))
	}
	out, err := scanIndexConversations(rows)
	if err != nil {
		return nil, fmt.Errorf("load conversations for index: %w", err)
	}
	return out, nil
}

// IndexConversationsPage returns up to limit conversations of the workspace with ids above
// afterID, in id order, for a rebuild.
func (db *DB) IndexConversationsPage(ctx context.Context, workspaceID, afterID int64, limit int) ([]IndexConversation, error) {
	rows, err := db.Pool.Query(ctx, indexConversationSelect+` WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3`, workspaceID, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("scan conversations for index: %w", unavailable(err))
	}
	out, err := scanIndexConversations(rows)
	if err != nil {
		return nil, fmt.Errorf("scan conversations for index: %w", err)
	}
	return out, nil
}

// IndexMessage is a message as the conversation index stores it.
type IndexMessage struct {
	ID             int64
	WorkspaceID    int64
	ConversationID int64
	AuthorType     string
	Body           string
	Private        bool
	CreatedAt      time.Time
}

const indexMessageSelect = `SELECT id, workspace_id, conversation_id, author_type, body, private, created_at FROM messages`

func scanIndexMessages(rows pgx.Rows) ([]IndexMessage, error) {
	defer rows.Close()
	var out []IndexMessage
	for rows.Next() {
		var m IndexMessage
		if err := rows.Scan(&m.ID, &m.WorkspaceID, &m.ConversationID, &m.AuthorType, &m.Body, &m.Private, &m.CreatedAt); err != nil {
			return nil, err
		}
		m.CreatedAt = m.CreatedAt.UTC()
		out = append(out, m)
	}
	return out, rows.Err()
}

// IndexMessages loads the workspace's messages with the given ids.
func (db *DB) IndexMessages(ctx context.Context, workspaceID int64, ids []int64) ([]IndexMessage, error) {
	rows, err := db.Pool.Query(ctx, indexMessageSelect+` WHERE workspace_id = $1 AND id = ANY($2::bigint[])`, workspaceID, ids)
	if err != nil {
		return nil, fmt.Errorf("load messages for index: %w", unavailable(err))
	}
	out, err := scanIndexMessages(rows)
	if err != nil {
		return nil, fmt.Errorf("load messages for index: %w", err)
	}
	return out, nil
}

// IndexConversationMessages loads every message of the workspace's conversations with the
// given ids.
func (db *DB) IndexConversationMessages(ctx context.Context, workspaceID int64, conversationIDs []int64) ([]IndexMessage, error) {
	rows, err := db.Pool.Query(ctx, indexMessageSelect+` WHERE workspace_id = $1 AND conversation_id = ANY($2::bigint[])`, workspaceID, conversationIDs)
	if err != nil {
		return nil, fmt.Errorf("load conversation messages for index: %w", unavailable(err))
	}
	out, err := scanIndexMessages(rows)
	if err != nil {
		return nil, fmt.Errorf("load conversation messages for index: %w", err)
	}
	return out, nil
}

// IndexContact is a contact as the contact index stores it.
type IndexContact struct {
	ID               int64
	WorkspaceID      int64
	ExternalID       string
	Name             string
	Email            string
	Phone            string
	Company          string
	CustomAttributes map[string]any
	UpdatedAt        time.Time
}

const indexContactSelect = `
	SELECT id, workspace_id, coalesce(external_id, ''), name, coalesce(email, ''), coalesce(phone, ''),
	       company, custom_attributes, updated_at
	FROM contacts`

func scanIndexContacts(rows pgx.Rows) ([]IndexContact, error) {
	defer rows.Close()
	var out []IndexContact
	for rows.Next() {
		var c IndexContact
		var attrs []byte
		if err := rows.Scan(&c.ID, &c.WorkspaceID, &c.ExternalID, &c.Name, &c.Email, &c.Phone, &c.Company, &attrs, &c.UpdatedAt); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(attrs, &c.CustomAttributes); err != nil {
			return nil, fmt.Errorf("contact %d custom attributes: %w", c.ID, err)
		}
		c.UpdatedAt = c.UpdatedAt.UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}

// IndexContacts loads the workspace's contacts with the given ids.
func (db *DB) IndexContacts(ctx context.Context, workspaceID int64, ids []int64) ([]IndexContact, error) {
	rows, err := db.Pool.Query(ctx, indexContactSelect+` WHERE workspace_id = $1 AND id = ANY($2::bigint[])`, workspaceID, ids)
	if err != nil {
		return nil, fmt.Errorf("load contacts for index: %w", unavailable(err))
	}
	out, err := scanIndexContacts(rows)
	if err != nil {
		return nil, fmt.Errorf("load contacts for index: %w", err)
	}
	return out, nil
}

// IndexContactsPage returns up to limit contacts of the workspace with ids above afterID, in id
// order, for a rebuild.
func (db *DB) IndexContactsPage(ctx context.Context, workspaceID, afterID int64, limit int) ([]IndexContact, error) {
	rows, err := db.Pool.Query(ctx, indexContactSelect+` WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3`, workspaceID, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("scan contacts for index: %w", unavailable(err))
	}
	out, err := scanIndexContacts(rows)
	if err != nil {
		return nil, fmt.Errorf("scan contacts for index: %w", err)
	}
	return out, nil
}

// SearchIndexGeneration returns the rebuild generation requested for the named index.
func (db *DB) SearchIndexGeneration(ctx context.Context, index string) (int64, error) {
	var g int64
	err := db.Pool.QueryRow(ctx, `SELECT generation FROM search_index_generations WHERE index_name = $1`, index).Scan(&g)
	if err == pgx.ErrNoRows {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read index generation: %w", unavailable(err))
	}
	return g, nil
}

// RequestSearchIndexRebuild bumps the generation of the named indexes, so that every node
// rebuilds them, and returns the new generations.
func (db *DB) RequestSearchIndexRebuild(ctx context.Context, indexes []string, by string) (map[string]int64, error) {
	rows, err := db.Pool.Query(ctx, `
		UPDATE search_index_generations SET generation = generation + 1, requested_at = now(), requested_by = $2
		WHERE index_name = ANY($1::text[]) RETURNING index_name, generation`, indexes, by)
	if err != nil {
		return nil, fmt.Errorf("request index rebuild: %w", unavailable(err))
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var n string
		var g int64
		if err := rows.Scan(&n, &g); err != nil {
			return nil, err
		}
		out[n] = g
	}
	return out, rows.Err()
}

// SearchIndexNode is one node's report on one of its indexes.
type SearchIndexNode struct {
	Node       string
	Index      string
	Generation int64
	Pos        LogPosition
	Docs       int64
	Rebuilding bool
	StartedAt  time.Time
	UpdatedAt  time.Time
	// Pending is the number of log entries after Pos (filled by SearchIndexNodes).
	Pending int64
}

// ReportSearchIndexNode records a node's index status.
func (db *DB) ReportSearchIndexNode(ctx context.Context, s SearchIndexNode) error {
	_, err := db.Pool.Exec(ctx, `
		INSERT INTO search_index_nodes (node, index_name, generation, txid, seq, docs, rebuilding, started_at, updated_at)
		VALUES ($1, $2, $3, $4::text::xid8, $5, $6, $7, $8, now())
		ON CONFLICT (node, index_name) DO UPDATE SET generation = excluded.generation, txid = excluded.txid,
			seq = excluded.seq, docs = excluded.docs, rebuilding = excluded.rebuilding,
			started_at = excluded.started_at, updated_at = now()`,
		s.Node, s.Index, s.Generation, strconv.FormatUint(s.Pos.TxID, 10), s.Pos.Seq, s.Docs, s.Rebuilding, s.StartedAt)
	if err != nil {
		return fmt.Errorf("report index status: %w", unavailable(err))
	}
	return nil
}

// SearchIndexNodes lists every node's latest report, with how many log entries of the index's
// kinds each still has to apply. kinds maps an index name to its log kinds.
func (db *DB) SearchIndexNodes(ctx context.Context, kinds map[string][]string) ([]SearchIndexNode, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT node, index_name, generation, txid::text, seq, docs, rebuilding, started_at, updated_at
		FROM search_index_nodes ORDER BY node, index_name`)
	if err != nil {
		return nil, fmt.Errorf("list index nodes: %w", unavailable(err))
	}
	var out []SearchIndexNode
	for rows.Next() {
		var s SearchIndexNode
		var txid string
		if err := rows.Scan(&s.Node, &s.Index, &s.Generation, &txid, &s.Pos.Seq, &s.Docs, &s.Rebuilding, &s.StartedAt, &s.UpdatedAt); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list index nodes: %w", err)
		}
		s.Pos.TxID, _ = strconv.ParseUint(txid, 10, 64)
		out = append(out, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list index nodes: %w", err)
	}
	for i := range out {
		if k := kinds[out[i].Index]; len(k) > 0 {
			n, err := db.IndexLogPending(ctx, k, out[i].Pos)
			if err != nil {
				return nil, err
			}
			out[i].Pending = n
		}
	}
	return out, nil
}

// IndexLogLast returns the position of the last committed entry of the given kinds (the zero
// position when there is none); workspaceID 0 means any workspace.
func (db *DB) IndexLogLast(ctx context.Context, kinds []string, workspaceID int64) (LogPosition, error) {
	var (
		txid string
		pos  LogPosition
	)
	err := db.Pool.QueryRow(ctx, `
		SELECT txid::text, seq FROM index_log
		WHERE kind = ANY($1::text[]) AND ($2::bigint = 0 OR workspace_id = $2)
		ORDER BY txid DESC, seq DESC LIMIT 1`, kinds, workspaceID).Scan(&txid, &pos.Seq)
	if err == pgx.ErrNoRows {
		return LogPosition{}, nil
	}
	if err != nil {
		return LogPosition{}, fmt.Errorf("read last index log entry: %w", unavailable(err))
	}
	if pos.TxID, err = strconv.ParseUint(txid, 10, 64); err != nil {
		return LogPosition{}, fmt.Errorf("read last index log entry: %w", err)
	}
	return pos, nil
}
