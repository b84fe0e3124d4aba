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
