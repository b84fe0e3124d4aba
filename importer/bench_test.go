package importer_test

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nubiq/hub/importer"
	"github.com/nubiq/hub/indexer"
	"github.com/nubiq/hub/jobs"
	"github.com/nubiq/hub/postgres"
	"github.com/nubiq/hub/postgres/pgtest"
)

// Benchmarks of whole-file imports into a fresh workspace per iteration, reporting records per
// second. Run (docs/IMPORT.md has figures):
//
//	go test ./importer -run '^$' -bench Import -benchtime 3x

func BenchmarkImportContacts(b *testing.B) {
	const n = 50000
	dir := b.TempDir()
	path := filepath.Join(dir, "contacts.csv")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "external_id,name,email,phone,company,plan,country")
	for i := range n {
		fmt.Fprintf(w, "u%07d,Customer %d,customer%d@example.com,+1415555%04d,Company %d,pro,US\n", i, i, i, i%10000, i%997)
	}
	w.Flush()
	f.Close()
	db := pgtest.NewDB(b)
	ctx := context.Background()
	b.ResetTimer()
	var elapsed time.Duration
	for i := 0; b.Loop(); i++ {
		ws, err := db.CreateWorkspace(ctx, fmt.Sprintf("bench %d", i), "pro")
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		s, err := importer.Import(ctx, importer.Config{DB: db, WorkspaceID: ws.ID}, importer.KindContacts, path)
		if err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		if s.Counts.Created != n {
			b.Fatalf("created %d of %d", s.Counts.Created, n)
		}
	}
	b.ReportMetric(float64(n*b.N)/elapsed.Seconds(), "contacts/s")
	b.ReportMetric(float64(n)/rawInsert(b, db, `
		INSERT INTO contacts (workspace_id, external_id, name, email, phone, company, custom_attributes)
		SELECT $1, 'raw' || i, 'Customer ' || i, 'raw' || i || '@example.com', '+1415555' || lpad((i % 10000)::text, 4, '0'),
		       'Company ' || (i % 997), '{"plan": "pro", "country": "US"}'
		FROM generate_series(1, $2) i`, n, "contact").Seconds(), "raw-insert-contacts/s")
}

// rawInsert times one INSERT … SELECT generate_series of n rows plus their index_log rows,
// rolled back: the ceiling an import of the same rows cannot beat on this machine at this
// moment, reported beside the import's rate because a shared machine's speed varies.
func rawInsert(b *testing.B, db *postgres.DB, insert string, n int, kind string) time.Duration {
	ctx := context.Background()
	ws, err := db.CreateWorkspace(ctx, fmt.Sprintf("raw %s", kind), "pro")
	if err != nil {
		b.Fatal(err)
	}
	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	args := []any{ws.ID, n}
	if kind == "message" {
		var conv int64
		if err := tx.QueryRow(ctx, `INSERT INTO conversations (workspace_id) VALUES ($1) RETURNING id`, ws.ID).Scan(&conv); err != nil {
			b.Fatal(err)
		}
		args = append(args, conv)
	}
	start := time.Now()
	if _, err := tx.Exec(ctx, insert, args...); err != nil {
		b.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO index_log (workspace_id, kind, entity_id, op) SELECT $1, $3, i, 'upsert' FROM generate_series(1, $2) i`, ws.ID, n, kind); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

const banking77 = "../../shared/datasets/banking77/train.csv"

// BenchmarkImportMessages imports conversations built from banking77's real customer
// messages: each message opens a conversation, an agent answers, and every other customer
// writes back.
func BenchmarkImportMessages(b *testing.B) {
	f, err := os.Open(banking77)
	if err != nil {
		b.Skipf("banking77 not available: %v", err)
	}
	r := csv.NewReader(f)
	if _, err := r.Read(); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "conversations.jsonl")
	out, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(out)
	enc := json.NewEncoder(w)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	messages := 0
	for i := 0; ; i++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		} else if err != nil {
			b.Fatal(err)
		}
		text, intent := rec[0], strings.ReplaceAll(rec[1], "_", " ")
		at := base.Add(time.Duration(i) * 7 * time.Minute)
		msgs := []map[string]any{
			{"author_type": "contact", "body": text, "created_at": at},
			{"author_type": "agent", "body": "Thanks for reaching out about " + intent + ". Let me look into it for you.", "created_at": at.Add(4 * time.Minute)},
		}
		if i%2 == 0 {
			msgs = append(msgs, map[string]any{"author_type": "contact", "body": "Thank you, that helps.", "created_at": at.Add(9 * time.Minute)})
		}
		messages += len(msgs)
		enc.Encode(map[string]any{ //nolint:errcheck
			"external_id": fmt.Sprintf("b77-%d", i), "subject": text, "status": "resolved", "channel": "web_widget",
			"tags": []string{rec[1]}, "contact": map[string]any{"email": fmt.Sprintf("customer%d@example.com", i%3000)},
			"messages": msgs,
		})
	}
	w.Flush()
	out.Close()
	f.Close()

	db := pgtest.NewDB(b)
	ctx := context.Background()
	var elapsed time.Duration
	for i := 0; b.Loop(); i++ {
		ws, err := db.CreateWorkspace(ctx, fmt.Sprintf("bench %d", i), "pro")
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		s, err := importer.Import(ctx, importer.Config{DB: db, WorkspaceID: ws.ID}, importer.KindConversations, path)
		if err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		if s.Messages.Created != int64(messages) {
			b.Fatalf("created %d of %d messages", s.Messages.Created, messages)
		}
	}
	b.ReportMetric(float64(messages*b.N)/elapsed.Seconds(), "messages/s")
	b.ReportMetric(float64(messages)/rawInsert(b, db, `
		INSERT INTO messages (workspace_id, conversation_id, author_type, body, created_at)
		SELECT $1, $3, 'contact', 'I am still waiting on my card, it has been two weeks ' || i, now()
		FROM generate_series(1, $2) i`, messages, "message").Seconds(), "raw-insert-messages/s")
}

const scifact = "../../shared/datasets/scifact-train/corpus.jsonl"

// BenchmarkImportDocuments imports the SciFact corpus (5,183 abstracts, BEIR JSONL, read as
// it is) into a fresh workspace per iteration, with the HNSW index of the embedder's
// dimensions in place as a server keeps it.
//
//   - import-only: no worker runs; documents/s is what the importer stores and queues.
//
//   - to-ready: ingest workers (8, the default; hash embedder, 256 dimensions) run from the
//     start, as with `nubiq import documents --wait`; documents/s and chunks/s are measured
//     from the start of the import until every document is ready.
//
//     go test ./importer -run '^$' -bench ImportDocuments -benchtime 1x
func BenchmarkImportDocuments(b *testing.B) {
	if _, err := os.Stat(scifact); err != nil {
		b.Skipf("scifact corpus not available: %v", err)
	}
	db := pgtest.NewDB(b)
	ctx := context.Background()
	emb := indexer.NewHashEmbedder(256)
	if err := db.EnsureVectorIndex(ctx, emb.Dimensions()); err != nil {
		b.Fatal(err)
	}
	seq := 0
	importOnce := func(b *testing.B) (*importer.Summary, int64, time.Duration) {
		seq++
		ws, err := db.CreateWorkspace(ctx, fmt.Sprintf("bench %d", seq), "pro")
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		s, err := importer.Import(ctx, importer.Config{DB: db, WorkspaceID: ws.ID}, importer.KindDocuments, scifact)
		if err != nil {
			b.Fatal(err)
		}
		if s.Counts.Created != s.Counts.Total() || s.Counts.Created < 5000 {
			b.Fatalf("import: %+v", s.Counts)
		}
		return s, ws.ID, time.Since(start)
	}
	b.Run("import-only", func(b *testing.B) {
		var n int64
		var elapsed time.Duration
		for b.Loop() {
			s, _, d := importOnce(b)
			n += s.Counts.Created
			elapsed += d
		}
		b.ReportMetric(float64(n)/elapsed.Seconds(), "documents/s")
		// Leave no jobs for the next sub-benchmark's workers.
		if _, err := db.Pool.Exec(ctx, `DELETE FROM river_job WHERE kind = 'ingest_document'`); err != nil {
			b.Fatal(err)
		}
	})
	b.Run("to-ready", func(b *testing.B) {
		runner, err := jobs.NewRunner(&jobs.Deps{DB: db, Embedder: emb}, jobs.Config{IngestOnly: true})
		if err != nil {
			b.Fatal(err)
		}
		if err := runner.Start(ctx); err != nil {
			b.Fatal(err)
		}
		defer func() {
			sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			runner.Stop(sctx) //nolint:errcheck
		}()
		var docs, chunks int64
		var importing, elapsed time.Duration
		for b.Loop() {
			start := time.Now()
			s, ws, d := importOnce(b)
			importing += d
			res, err := importer.WaitIndexed(ctx, importer.WaitConfig{DB: db, WorkspaceID: ws, Poll: 50 * time.Millisecond}, s.Queued)
			if err != nil {
				b.Fatal(err)
			}
			elapsed += time.Since(start)
			if res.Failed > 0 || res.Ready != s.Counts.Created {
				b.Fatalf("indexing: %+v", res.IngestCounts)
			}
			docs += res.Ready
			chunks += res.Chunks
		}
		b.ReportMetric(float64(docs)/importing.Seconds(), "imported-documents/s")
		b.ReportMetric(float64(docs)/elapsed.Seconds(), "ready-documents/s")
		b.ReportMetric(float64(chunks)/elapsed.Seconds(), "ready-chunks/s")
		b.ReportMetric(float64(chunks)/float64(docs), "chunks/document")
	})
}
