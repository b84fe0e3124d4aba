package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"

	"github.com/nubiq/hub"
)

// The statements behind search: nearest chunks by vector, and loading what search results
// show. Every statement filters on the caller's workspace.

// DocumentFilter restricts document search. Zero fields do not filter.
type DocumentFilter struct {
	DocumentIDs []int64
	// Metadata: every key must hold the value (as a string, number or boolean rendered as
	// text, or as an element of an array).
	Metadata map[string]string
	MimeType string
	Updated  nubiq.TimeRange
}

func (f *DocumentFilter) empty() bool {
	return len(f.DocumentIDs) == 0 && len(f.Metadata) == 0 && f.MimeType == "" && f.Updated.From.IsZero() && f.Updated.To.IsZero()
}

// VectorQuery asks for the chunks nearest to a query vector.
type VectorQuery struct {
	Embedder string // only chunks embedded by this embedder are comparable
	Vector   []float32
	Limit    int
	Filter   DocumentFilter
	// Strategy picks the plan: VectorExact scans the workspace's chunks (through the
	// workspace index) and ranks them all; VectorHNSW walks the HNSW index with iterative
	// scanning (see vectorSettings). HNSW may return fewer rows than exist when filters are selective; callers
	// fall back to exact then (see NearestChunks).
	Strategy string
	// EfSearch is the HNSW candidate list size (VectorHNSW only; default 100).
	EfSearch int
}

// Vector search strategies.
const (
	VectorExact = "exact"
	VectorHNSW  = "hnsw"
)

// ChunkNeighbor is a chunk and its cosine distance to the query vector.
type ChunkNeighbor struct {
	ChunkID    int64
	DocumentID int64
	Distance   float64
}

// vectorSQL builds the nearest-chunks statement and its arguments. dims is an integer we
// format ourselves (a type modifier cannot be a parameter); it must match the partial HNSW
// index's predicate literally for the planner to use that index. Filters add parameters
// only when present, so that every parameter's type is known.
func vectorSQL(workspaceID int64, q *VectorQuery) (string, []any) {
	dims, f := len(q.Vector), &q.Filter
	args := []any{workspaceID, pgvector.NewVector(q.Vector), q.Embedder, q.Limit}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	cast := fmt.Sprintf("c.embedding::vector(%d)", dims)
	var sb strings.Builder
	sb.WriteString("SELECT c.id, c.document_id, ")
	sb.WriteString(cast)
	sb.WriteString(" <=> $2 AS dist FROM document_chunks c")
	if !f.empty() {
		sb.WriteString(" JOIN documents d ON d.id = c.document_id AND d.workspace_id = c.workspace_id")
	}
	if q.Strategy == VectorHNSW {
		// "+ 0" keeps the planner off the workspace B-tree: the HNSW index is the plan.
		sb.WriteString(" WHERE c.workspace_id + 0 = $1")
	} else {
		sb.WriteString(" WHERE c.workspace_id = $1")
	}
	fmt.Fprintf(&sb, " AND c.dims = %d AND c.embedder = $3", dims)
	if q.Strategy == VectorHNSW {
		// Implies the partial index's predicate (dims = N AND ann); the caller walks the
		// index only for workspaces whose chunks are all in it.
		sb.WriteString(" AND c.ann")
	}
	if len(f.DocumentIDs) > 0 {
		sb.WriteString(" AND c.document_id = ANY(" + arg(f.DocumentIDs) + "::bigint[])")
	}
	if len(f.Metadata) > 0 {
		meta, _ := json.Marshal(f.Metadata)
		sb.WriteString(" AND NOT EXISTS (SELECT 1 FROM jsonb_each_text(" + arg(string(meta)) + `::jsonb) m
			WHERE (d.metadata ->> m.key) IS DISTINCT FROM m.value
			  AND NOT coalesce(d.metadata -> m.key @> jsonb_build_array(m.value), false))`)
	}
	if f.MimeType != "" {
		sb.WriteString(" AND d.mime_type = " + arg(f.MimeType))
	}
	if !f.Updated.From.IsZero() {
		sb.WriteString(" AND d.updated_at >= " + arg(f.Updated.From))
	}
	if !f.Updated.To.IsZero() {
		sb.WriteString(" AND d.updated_at < " + arg(f.Updated.To))
	}
	if q.Strategy == VectorHNSW {
		fmt.Fprintf(&sb, " ORDER BY %s <=> $2 LIMIT $4", cast)
		// Iterative scans return rows in roughly, not exactly, increasing distance.
		return "WITH r AS MATERIALIZED (" + sb.String() + ") SELECT id, document_id, dist FROM r ORDER BY dist, id", args
	}
	// "+ 0" keeps the planner off the HNSW index: an exact scan ranks every chunk.
	fmt.Fprintf(&sb, " ORDER BY (%s <=> $2) + 0, c.id LIMIT $4", cast)
	return sb.String(), args
}

// NearestChunks returns the workspace's chunks nearest to q.Vector by cosine distance,
// nearest first. It runs in a read-only transaction with the settings of vectorSettings;
// with VectorHNSW these turn on pgvector's iterative index scan, so that rows of other
// workspaces do not starve the result.
func (db *DB) NearestChunks(ctx context.Context, workspaceID int64, q VectorQuery) ([]ChunkNeighbor, error) {
	dims := len(q.Vector)
	if dims == 0 || dims > 16000 {
		return nil, fmt.Errorf("nearest chunks: bad vector size %d", dims)
	}
	stmt, args := vectorSQL(workspaceID, &q)
	var out []ChunkNeighbor
	run := func(ctx context.Context, qr interface {
		Query(context.Context, string, ...any) (pgx.Rows, error)
	}) error {
		// Planned afresh with the actual values every time: a cached generic plan guesses
		// that the workspace holds a typical share of the table, and for the exact
		// strategy that guess picks a sequential scan of every workspace's vectors.
		rows, err := qr.Query(ctx, stmt, append([]any{pgx.QueryExecModeExec}, args...)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var n ChunkNeighbor
			if err := rows.Scan(&n.ChunkID, &n.DocumentID, &n.Distance); err != nil {
				return err
			}
			out = append(out, n)
		}
		return rows.Err()
	}
	err := pgx.BeginTxFunc(ctx, db.Pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, vectorSettings(&q)); err != nil {
			return err
		}
		return run(ctx, tx)
	})
	if err != nil {
		return nil, fmt.Errorf("nearest chunks: %w", unavailable(err))
	}
	return out, nil
}

// vectorSettings are the planner settings a nearest-chunks statement runs with, local to its
// transaction. Vector plans look expensive to the planner, which then turns on JIT
// compilation (some 60 ms per query) and parallel workers (worse than useless on a loaded
// machine for a few milliseconds of work); both are switched off. The exact strategy reads
// the workspace's rows through the workspace index, never a full scan; the HNSW strategy
// walks the index with iterative scanning, sorting switched off so that the index is the
// only plan that yields rows in distance order.
func vectorSettings(q *VectorQuery) string {
	set := "SET LOCAL jit = off; SET LOCAL max_parallel_workers_per_gather = 0; "
	if q.Strategy == VectorHNSW {
		ef := q.EfSearch
		if ef <= 0 {
			ef = 100
		}
		return set + fmt.Sprintf("SET LOCAL hnsw.ef_search = %d; SET LOCAL hnsw.iterative_scan = relaxed_order; SET LOCAL enable_sort = off", ef)
	}
	return set + "SET LOCAL enable_seqscan = off"
}

// ExplainNearestChunks returns the plan of the nearest-chunks statement, as planned for its
// values or, with generic, as a cached generic plan would run it (every parameter unknown),
// for tests and diagnosis. options are EXPLAIN options such as "ANALYZE, BUFFERS".
func (db *DB) ExplainNearestChunks(ctx context.Context, workspaceID int64, q VectorQuery, generic bool, options ...string) (string, error) {
	stmt, args := vectorSQL(workspaceID, &q)
	var plan []string
	err := pgx.BeginTxFunc(ctx, db.Pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		mode := "force_custom_plan"
		if generic {
			mode = "force_generic_plan"
		}
		if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = "+mode+"; "+vectorSettings(&q)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "PREPARE nearest_explain AS "+stmt); err != nil {
			return err
		}
		// Prepared statements outlive transactions: drop it from the pooled session.
		defer tx.Exec(context.WithoutCancel(ctx), "DEALLOCATE nearest_explain") //nolint:errcheck
		// EXECUTE takes no bind parameters: the arguments go in as literals.
		lits := make([]string, len(args))
		for i, a := range args {
			lit, err := sqlLiteral(a)
			if err != nil {
				return err
			}
			lits[i] = lit
		}
		explain := "EXPLAIN"
		if len(options) > 0 {
			explain += " (" + strings.Join(options, ", ") + ")"
		}
		rows, err := tx.Query(ctx, explain+" EXECUTE nearest_explain("+strings.Join(lits, ", ")+")")
		if err != nil {
			return err
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		plan = lines
		return err
	})
	if err != nil {
		return "", fmt.Errorf("explain nearest chunks: %w", err)
	}
	return strings.Join(plan, "\n"), nil
}

// sqlLiteral renders the argument types of the nearest-chunks statement as SQL literals.
func sqlLiteral(v any) (string, error) {
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	switch x := v.(type) {
	case int64:
		return strconv.FormatInt(x, 10), nil
	case int:
		return strconv.Itoa(x), nil
	case string:
		return quote(x), nil
	case pgvector.Vector:
		parts := make([]string, len(x.Slice()))
		for i, f := range x.Slice() {
			parts[i] = strconv.FormatFloat(float64(f), 'g', -1, 32)
		}
		return quote("["+strings.Join(parts, ",")+"]") + "::vector", nil
	case []int64:
		parts := make([]string, len(x))
		for i, id := range x {
			parts[i] = strconv.FormatInt(id, 10)
		}
		return "ARRAY[" + strings.Join(parts, ",") + "]::bigint[]", nil
	case time.Time:
		return quote(x.UTC().Format(time.RFC3339Nano)) + "::timestamptz", nil
	}
	return "", fmt.Errorf("no SQL literal for %T", v)
}

// WorkspaceChunkCount counts the workspace's chunks embedded by embedder.
func (db *DB) WorkspaceChunkCount(ctx context.Context, workspaceID int64, embedder string, dims int) (int64, error) {
	var n int64
	err := db.Pool.QueryRow(ctx, `
		SELECT count(*) FROM document_chunks WHERE workspace_id = $1 AND dims = $2 AND embedder = $3`,
		workspaceID, dims, embedder).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count chunks: %w", unavailable(err))
	}
	return n, nil
}

// SearchChunk is a chunk with its document, as a search result shows it.
type SearchChunk struct {
	ID          int64
	DocumentID  int64
	ChunkIndex  int
	Text        string
	HeadingPath []string
	Title       string
	SourceURL   string
	MimeType    string
	Language    string
	Metadata    map[string]any
	UpdatedAt   time.Time
}

// SearchChunks loads the workspace's chunks with the given ids and their documents; ids of
// other workspaces and deleted chunks are left out.
func (db *DB) SearchChunks(ctx context.Context, workspaceID int64, ids []int64) (map[int64]*SearchChunk, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT c.id, c.document_id, c.chunk_index, c.text, c.heading_path,
		       d.title, d.source_url, d.mime_type, d.language, d.metadata, d.updated_at
		FROM document_chunks c
		JOIN documents d ON d.id = c.document_id AND d.workspace_id = c.workspace_id
		WHERE c.workspace_id = $1 AND c.id = ANY($2::bigint[])`, workspaceID, ids)
	if err != nil {
		return nil, fmt.Errorf("load search chunks: %w", unavailable(err))
	}
	defer rows.Close()
	out := map[int64]*SearchChunk{}
	for rows.Next() {
		var c SearchChunk
		var meta []byte
		if err := rows.Scan(&c.ID, &c.DocumentID, &c.ChunkIndex, &c.Text, &c.HeadingPath,
			&c.Title, &c.SourceURL, &c.MimeType, &c.Language, &meta, &c.UpdatedAt); err != nil {
			return nil, fmt.Errorf("load search chunks: %w", err)
		}
		if err := json.Unmarshal(meta, &c.Metadata); err != nil {
			return nil, fmt.Errorf("load search chunks: document %d metadata: %w", c.DocumentID, err)
		}
		c.UpdatedAt = c.UpdatedAt.UTC()
		out[c.ID] = &c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load search chunks: %w", err)
	}
	return out, nil
}

// FetchedDocument is a whole document for the fetch tool.
type FetchedDocument struct {
	ID        int64
	Title     string
	SourceURL string
	MimeType  string
	Language  string
	Status    string
	Version   int
	Metadata  map[string]any
	Text      string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// FetchDocument loads a document's text: its extracted text, or its chunks joined in order
// when extraction kept no copy. Another workspace's document is not found.
func (db *DB) FetchDocument(ctx context.Context, workspaceID, id int64) (*FetchedDocument, error) {
	var d FetchedDocument
	var meta []byte
	var text *string
	err := db.Pool.QueryRow(ctx, `
		SELECT id, title, source_url, mime_type, language, status, version, metadata, extracted_text, created_at, updated_at
		FROM documents WHERE workspace_id = $1 AND id = $2`, workspaceID, id).Scan(
		&d.ID, &d.Title, &d.SourceURL, &d.MimeType, &d.Language, &d.Status, &d.Version, &meta, &text, &d.CreatedAt, &d.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nubiq.NotFoundf("document %d not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("fetch document %d: %w", id, unavailable(err))
	}
	if err := json.Unmarshal(meta, &d.Metadata); err != nil {
		return nil, fmt.Errorf("fetch document %d: metadata: %w", id, err)
	}
	d.CreatedAt, d.UpdatedAt = d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	if text != nil && *text != "" {
		d.Text = *text
		return &d, nil
	}
	rows, err := db.Pool.Query(ctx, `
		SELECT text FROM document_chunks WHERE workspace_id = $1 AND document_id = $2 ORDER BY chunk_index`, workspaceID, id)
	if err != nil {
		return nil, fmt.Errorf("fetch document %d chunks: %w", id, unavailable(err))
	}
	parts, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("fetch document %d chunks: %w", id, err)
	}
	d.Text = strings.Join(parts, "\n\n")
	return &d, nil
}

// ConversationsByID loads the workspace's conversations with the given ids, as
// conversations.list shows them; ids of other workspaces and deleted ones are left out.
func (db *DB) ConversationsByID(ctx context.Context, workspaceID int64, ids []int64) (map[int64]*nubiq.Conversation, error) {
	rows, err := db.Pool.Query(ctx, conversationSelect+` WHERE c.workspace_id = $1 AND c.id = ANY($2::bigint[])`, workspaceID, ids)
	if err != nil {
		return nil, fmt.Errorf("load conversations: %w", unavailable(err))
	}
	defer rows.Close()
	out := map[int64]*nubiq.Conversation{}
	for rows.Next() {
		c, err := scanConversation(rows)
		if err != nil {
			return nil, fmt.Errorf("load conversations: %w", err)
		}
		out[c.ID] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load conversations: %w", err)
	}
	return out, nil
}

// SearchMessage is a message as a search result shows it.
type SearchMessage struct {
	ID             int64
	ConversationID int64
	AuthorType     string
	Body           string
	Private        bool
	CreatedAt      time.Time
}

// SearchMessages loads the workspace's messages with the given ids.
func (db *DB) SearchMessages(ctx context.Context, workspaceID int64, ids []int64) (map[int64]*SearchMessage, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT id, conversation_id, author_type, body, private, created_at
		FROM messages WHERE workspace_id = $1 AND id = ANY($2::bigint[])`, workspaceID, ids)
	if err != nil {
		return nil, fmt.Errorf("load search messages: %w", unavailable(err))
	}
	defer rows.Close()
	out := map[int64]*SearchMessage{}
	for rows.Next() {
		var m SearchMessage
		if err := rows.Scan(&m.ID, &m.ConversationID, &m.AuthorType, &m.Body, &m.Private, &m.CreatedAt); err != nil {
			return nil, fmt.Errorf("load search messages: %w", err)
		}
		m.CreatedAt = m.CreatedAt.UTC()
		out[m.ID] = &m
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load search messages: %w", err)
	}
	return out, nil
}

// ContactsByID loads the workspace's contacts with the given ids, as contacts.list shows
// them; ids of other workspaces and deleted ones are left out.
func (db *DB) ContactsByID(ctx context.Context, workspaceID int64, ids []int64) (map[int64]*nubiq.Contact, error) {
	rows, err := db.Pool.Query(ctx, `SELECT `+contactColumns+` FROM contacts c WHERE c.workspace_id = $1 AND c.id = ANY($2::bigint[])`, workspaceID, ids)
	if err != nil {
		return nil, fmt.Errorf("load contacts: %w", unavailable(err))
	}
	defer rows.Close()
	out := map[int64]*nubiq.Contact{}
	for rows.Next() {
		c, err := scanContact(rows)
		if err != nil {
			return nil, fmt.Errorf("load contacts: %w", err)
		}
		out[c.ID] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load contacts: %w", err)
	}
	return out, nil
}
