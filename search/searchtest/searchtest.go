// Package searchtest runs a node's search indexes and search service on a test database, and
// writes the rows search reads — documents with embedded chunks, conversations, messages,
// contacts — together with their index-log entries, as the application's write paths do.
package searchtest

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nubiq/hub/indexer"
	"github.com/nubiq/hub/postgres"
	"github.com/nubiq/hub/postgres/pgtest"
	"github.com/nubiq/hub/search"
	"github.com/nubiq/hub/searchindex"
)

// Dims is the dimension of the test embedder.
const Dims = 256

// Env is a node: its indexes in a temporary directory, kept up to date by a running tailer,
// and a search service over them.
type Env struct {
	DB       *postgres.DB
	Dir      string
	Indexes  *searchindex.Set
	Service  *search.Service
	Embedder indexer.Embedder
	stop     context.CancelFunc
	done     chan struct{}
}

// Option adjusts an Env's configuration before it starts.
type Option func(*searchindex.Config, *search.Config)

// WithDir puts the indexes in dir instead of a fresh temporary directory.
func WithDir(dir string) Option {
	return func(c *searchindex.Config, _ *search.Config) { c.Dir = dir }
}

// WithIndexes adjusts the indexes' configuration.
func WithIndexes(f func(*searchindex.Config)) Option {
	return func(c *searchindex.Config, _ *search.Config) { f(c) }
}

// WithSearch adjusts the search service's configuration.
func WithSearch(f func(*search.Config)) Option {
	return func(_ *searchindex.Config, c *search.Config) { f(c) }
}

// New starts a node on db (a fresh database when nil); it stops when the test ends.
func New(t testing.TB, db *postgres.DB, opts ...Option) *Env {
	t.Helper()
	if db == nil {
		db = pgtest.NewDB(t)
	}
	emb := indexer.NewHashEmbedder(Dims)
	icfg := searchindex.Config{Dir: t.TempDir(), DB: db, PollInterval: 20 * time.Millisecond, ReportInterval: -1,
		CheckInterval: 50 * time.Millisecond, Logger: testLogger()}
	scfg := search.Config{DB: db, Embedder: emb}
	for _, o := range opts {
		o(&icfg, &scfg)
	}
	set, err := searchindex.Open(icfg)
	if err != nil {
		t.Fatalf("open indexes: %v", err)
	}
	scfg.Indexes = set
	e := &Env{DB: db, Dir: icfg.Dir, Indexes: set, Service: search.New(scfg), Embedder: emb, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	e.stop = cancel
	go func() {
		defer close(e.done)
		set.Run(ctx)
	}()
	t.Cleanup(e.Stop)
	return e
}

// Stop stops the tailers and closes the indexes (idempotent).
func (e *Env) Stop() {
	if e.stop == nil {
		return
	}
	e.stop()
	<-e.done
	e.Indexes.Close()
	e.stop = nil
}

// Sync waits until the node has applied every change committed so far.
func (e *Env) Sync(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Indexes.Sync(ctx); err != nil {
		t.Fatalf("sync indexes: %v", err)
	}
}

// Exec runs a statement, failing the test on error.
func Exec(t testing.TB, db *postgres.DB, sql string, args ...any) {
	t.Helper()
	if _, err := db.Pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("exec %s: %v", sql, err)
	}
}

// Doc is a test document. Text is split into chunks at blank-line-separated "---" lines;
// Headings, when given, is the heading path of each chunk.
type Doc struct {
	ExternalID string
	Title      string
	Text       string
	Headings   [][]string
	SourceURL  string
	MimeType   string // default text/markdown
	Language   string
	Metadata   map[string]any
}

// AddDocument writes a ready document with chunks embedded by e.Embedder and returns its id.
func (e *Env) AddDocument(t testing.TB, workspaceID int64, d Doc) int64 {
	t.Helper()
	ids := e.AddDocuments(t, workspaceID, d)
	return ids[0]
}

// AddDocuments writes several documents in one transaction.
func (e *Env) AddDocuments(t testing.TB, workspaceID int64, docs ...Doc) []int64 {
	t.Helper()
	ctx := context.Background()
	in := make([]postgres.IndexedDocument, len(docs))
	for i, d := range docs {
		if d.MimeType == "" {
			d.MimeType = "text/markdown"
		}
		parts := strings.Split(d.Text, "\n\n---\n\n")
		vecs, err := e.Embedder.Embed(ctx, parts)
		if err != nil {
			t.Fatal(err)
		}
		in[i] = postgres.IndexedDocument{ExternalID: d.ExternalID, Title: d.Title, SourceURL: d.SourceURL, MimeType: d.MimeType,
			Language: d.Language, Metadata: d.Metadata, Text: strings.Join(parts, "\n\n"), Embedder: e.Embedder.Name()}
		off := 0
		for j, p := range parts {
			c := postgres.IndexedChunk{Text: p, Start: off, End: off + len([]rune(p)), Tokens: len(strings.Fields(p)), Vector: vecs[j]}
			if j < len(d.Headings) {
				c.HeadingPath = d.Headings[j]
			}
			off = c.End + 2
			in[i].Chunks = append(in[i].Chunks, c)
		}
	}
	ids, err := e.DB.InsertIndexedDocuments(ctx, workspaceID, in)
	if err != nil {
		t.Fatalf("insert documents: %v", err)
	}
	return ids
}

// ChunkIDs returns a document's chunk ids in chunk order.
func ChunkIDs(t testing.TB, db *postgres.DB, documentID int64) []int64 {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `SELECT id FROM document_chunks WHERE document_id = $1 ORDER BY chunk_index`, documentID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// Log writes an index-log entry, as the write paths do beside their changes.
func Log(t testing.TB, db *postgres.DB, workspaceID int64, kind string, id int64, op string) {
	t.Helper()
	Exec(t, db, `INSERT INTO index_log (workspace_id, kind, entity_id, op) VALUES ($1, $2, $3, $4)`, workspaceID, kind, id, op)
}

// Contact is a test contact.
type Contact struct {
	ExternalID string
	Name       string
	Email      string
	Phone      string
	Company    string
	Attributes map[string]any
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// AddContact writes a contact and its index-log entry, and returns its id.
func AddContact(t testing.TB, db *postgres.DB, workspaceID int64, c Contact) int64 {
	t.Helper()
	if c.Attributes == nil {
		c.Attributes = map[string]any{}
	}
	attrs, _ := json.Marshal(c.Attributes)
	var id int64
	err := db.Pool.QueryRow(context.Background(), `
		INSERT INTO contacts (workspace_id, external_id, name, email, phone, company, custom_attributes)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		workspaceID, nullable(c.ExternalID), c.Name, nullable(c.Email), nullable(c.Phone), c.Company, attrs).Scan(&id)
	if err != nil {
		t.Fatalf("insert contact: %v", err)
	}
	Log(t, db, workspaceID, "contact", id, "upsert")
	return id
}

// Conversation is a test conversation.
type Conversation struct {
	Subject          string
	Status           string // default open
	Priority         string // default normal
	ChannelID        int64
	ContactID        int64
	AssigneeMemberID int64
	AssigneeTeamID   int64
	Tags             []string
	Metadata         map[string]any
	CreatedAt        time.Time // default now
}

func nullID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

// AddConversation writes a conversation and its index-log entry, and returns its id.
func AddConversation(t testing.TB, db *postgres.DB, workspaceID int64, c Conversation) int64 {
	t.Helper()
	if c.Status == "" {
		c.Status = "open"
	}
	if c.Priority == "" {
		c.Priority = "normal"
	}
	if c.Tags == nil {
		c.Tags = []string{}
	}
	if c.Metadata == nil {
		c.Metadata = map[string]any{}
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = time.Now()
	}
	meta, _ := json.Marshal(c.Metadata)
	var id int64
	err := db.Pool.QueryRow(context.Background(), `
		INSERT INTO conversations (workspace_id, subject, status, priority, channel_id, contact_id, assignee_member_id,
			assignee_team_id, tags, metadata, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING id`,
		workspaceID, c.Subject, c.Status, c.Priority, nullID(c.ChannelID), nullID(c.ContactID), nullID(c.AssigneeMemberID),
		nullID(c.AssigneeTeamID), c.Tags, meta, c.CreatedAt).Scan(&id)
	if err != nil {
		t.Fatalf("insert conversation: %v", err)
	}
	Log(t, db, workspaceID, "conversation", id, "upsert")
	return id
}

// Message is a test message.
type Message struct {
	AuthorType string // default contact
	Body       string
	Private    bool
}

// AddMessage writes a message and its index-log entry, and returns its id.
func AddMessage(t testing.TB, db *postgres.DB, workspaceID, conversationID int64, m Message) int64 {
	t.Helper()
	if m.AuthorType == "" {
		m.AuthorType = "contact"
	}
	var id int64
	err := db.Pool.QueryRow(context.Background(), `
		INSERT INTO messages (workspace_id, conversation_id, author_type, body, private)
		VALUES ($1, $2, $3, $4, $5) RETURNING id`, workspaceID, conversationID, m.AuthorType, m.Body, m.Private).Scan(&id)
	if err != nil {
		t.Fatalf("insert message: %v", err)
	}
	Exec(t, db, `UPDATE conversations SET last_message_at = now() WHERE id = $1`, conversationID)
	Log(t, db, workspaceID, "message", id, "upsert")
	return id
}

// Member adds an active agent and returns its id.
func Member(t testing.TB, db *postgres.DB, workspaceID int64, email string) int64 {
	t.Helper()
	var id int64
	err := db.Pool.QueryRow(context.Background(), `
		INSERT INTO members (workspace_id, email, name, role, status) VALUES ($1, $2, $2, 'agent', 'active') RETURNING id`,
		workspaceID, email).Scan(&id)
	if err != nil {
		t.Fatalf("insert member: %v", err)
	}
	return id
}

// Team adds a team and returns its id.
func Team(t testing.TB, db *postgres.DB, workspaceID int64, name string) int64 {
	t.Helper()
	var id int64
	if err := db.Pool.QueryRow(context.Background(), `INSERT INTO teams (workspace_id, name) VALUES ($1, $2) RETURNING id`, workspaceID, name).Scan(&id); err != nil {
		t.Fatalf("insert team: %v", err)
	}
	return id
}

// Channel adds a channel and returns its id.
func Channel(t testing.TB, db *postgres.DB, workspaceID int64, kind, name string) int64 {
	t.Helper()
	var id int64
	if err := db.Pool.QueryRow(context.Background(), `INSERT INTO channels (workspace_id, kind, name) VALUES ($1, $2, $3) RETURNING id`, workspaceID, kind, name).Scan(&id); err != nil {
		t.Fatalf("insert channel: %v", err)
	}
	return id
}

// Workspace creates a workspace and returns its id.
func Workspace(t testing.TB, db *postgres.DB, name string) int64 {
	t.Helper()
	w, err := db.CreateWorkspace(context.Background(), name, "pro")
	if err != nil {
		t.Fatalf("create workspace: %v", err)
	}
	return w.ID
}

func testLogger() *slog.Logger {
	if os.Getenv("NUBIQ_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}
