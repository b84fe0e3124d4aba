package importer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub/importer"
	"github.com/nubiq/hub/postgres"
	"github.com/nubiq/hub/postgres/pgtest"
)

type env struct {
	t   *testing.T
	db  *postgres.DB
	ws  int64
	dir string
}

func newEnv(t *testing.T) *env {
	db := pgtest.NewDB(t)
	w, err := db.CreateWorkspace(context.Background(), "Acme", "pro")
	require.NoError(t, err)
	return &env{t: t, db: db, ws: w.ID, dir: t.TempDir()}
}

func (e *env) write(name, content string) string {
	p := filepath.Join(e.dir, name)
	require.NoError(e.t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

func (e *env) run(kind, path string, mod ...func(*importer.Config)) (*importer.Summary, string) {
	e.t.Helper()
	var report bytes.Buffer
	cfg := importer.Config{DB: e.db, WorkspaceID: e.ws, Report: &report}
	for _, m := range mod {
		m(&cfg)
	}
	s, err := importer.Import(context.Background(), cfg, kind, path)
	require.NoError(e.t, err)
	return s, report.String()
}

func (e *env) count(q string, args ...any) int64 {
	e.t.Helper()
	var n int64
	require.NoError(e.t, e.db.Pool.QueryRow(context.Background(), q, args...).Scan(&n))
	return n
}

func counts(c, u, n, f int64) postgres.ImportCounts {
	return postgres.ImportCounts{Created: c, Updated: u, Unchanged: n, Failed: f}
}

func TestImportContactsCSV(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	csv := "External ID,Full Name,Email,Phone,Company,Plan,Signup Source\n" + // line 1
		"c1,Ada Lovelace,ada@example.com,+44 20 7946 0958,Analytical Ltd,pro,ads\n" + // 2
		"c2,\"Grace Hopper, RADM\",grace@example.com,,\"Navy\nYard\",,\n" + // 3-4
		"c3,Bad Email,not-an-email,,,,\n" + // 5
		"c4,Too,many,fields,here,x,y,z\n" + // 6
		",No Key,,,,,\n" + // 7
		"c5,Bare \"quote,b@example.com,,,,\n" + // 8
		"c6,Linus,linus@example.com,,,free,\n" + // 9
		"c7,Also Linus,LINUS@example.com,,,,\n" // 10: same email as c6 in the same batch
	path := e.write("contacts.csv", csv)
	s, report := e.run(importer.KindContacts, path)
	require.Equal(t, counts(3, 0, 0, 5), s.Counts, report)
	for _, want := range []string{
		"contacts.csv:5: email: \"not-an-email\" is not an email address",
		"contacts.csv:6: has 8 fields, the header has 7",
		"contacts.csv:7: needs an external_id or an email",
		"contacts.csv:8: quote inside unquoted field 2",
		"contacts.csv:10: email \"LINUS@example.com\" is also used by another record",
	} {
		require.Contains(t, report, want)
	}
	var name, company, phone string
	var attrs map[string]any
	require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT name, company, coalesce(phone, ''), custom_attributes FROM contacts WHERE external_id = 'c1'`).Scan(&name, &company, &phone, &attrs))
	require.Equal(t, "Ada Lovelace", name)
	require.Equal(t, "+442079460958", phone)
	require.Equal(t, map[string]any{"Plan": "pro", "Signup Source": "ads"}, attrs)
	require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT name, company, custom_attributes FROM contacts WHERE external_id = 'c2'`).Scan(&name, &company, &attrs))
	require.Equal(t, "Grace Hopper, RADM", name)
	require.Equal(t, "Navy\nYard", company)
	require.Empty(t, attrs)
	require.Equal(t, int64(3), e.count(`SELECT count(*) FROM index_log WHERE kind = 'contact' AND workspace_id = $1`, e.ws))

	// The same file again: nothing changes, nothing is logged for the indexer.
	s, _ = e.run(importer.KindContacts, path)
	require.Equal(t, counts(0, 0, 3, 5), s.Counts)
	require.Equal(t, int64(3), e.count(`SELECT count(*) FROM contacts`))
	require.Equal(t, int64(3), e.count(`SELECT count(*) FROM index_log WHERE kind = 'contact'`))

	// A changed record is updated; a file without a column leaves that field alone.
	path2 := e.write("update.csv", "email,company,tier\nada@example.com,Babbage & Co,gold\nnew@example.com,Newco,\n")
	s, report = e.run(importer.KindContacts, path2)
	require.Equal(t, counts(1, 1, 0, 0), s.Counts, report)
	require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT name, company, custom_attributes FROM contacts WHERE external_id = 'c1'`).Scan(&name, &company, &attrs))
	require.Equal(t, "Ada Lovelace", name)
	require.Equal(t, "Babbage & Co", company)
	require.Equal(t, map[string]any{"Plan": "pro", "Signup Source": "ads", "tier": "gold"}, attrs)
	require.Equal(t, int64(5), e.count(`SELECT count(*) FROM index_log WHERE kind = 'contact'`))
}

func TestImportContactsJSONL(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, err := e.db.Pool.Exec(ctx, `INSERT INTO contacts (workspace_id, email, name) VALUES ($1, 'kay@example.com', 'Kay'),
		($1, 'taken@example.com', 'Taken')`, e.ws)
	require.NoError(t, err)
	_, err = e.db.Pool.Exec(ctx, `INSERT INTO contacts (workspace_id, external_id, email) VALUES ($1, 'other', 'owned@example.com')`, e.ws)
	require.NoError(t, err)
	jsonl := `{"external_id": 42, "email": "kay@example.com", "first_name": "Kay", "last_name": "Jones", "custom_attributes": {"vip": true}, "seats": 12}
{"external_id": "43", "email": "owned@example.com"}
{"email": "nobody"
{"external_id": "44", "email": "x@example.com", "name": ["not", "a", "string"]}
{"external_id": "45", "email": "taken@example.com", "phone": null}
{"external_id": "46", "email": "fresh@example.com"}
{"external_id": "46", "email": "fresher@example.com"}
`
	path := e.write("contacts.jsonl", jsonl)
	s, report := e.run(importer.KindContacts, path)
	// 42 adopts kay@, 45 adopts taken@; 46 once (its second line wins); 43 clashes.
	require.Equal(t, counts(1, 2, 0, 4), s.Counts, report)
	require.Contains(t, report, "contacts.jsonl:2: email owned@example.com belongs to the contact with external_id other")
	require.Contains(t, report, "contacts.jsonl:3: not a JSON object")
	require.Contains(t, report, "contacts.jsonl:4: name: must be a string")
	require.Contains(t, report, "contacts.jsonl:6: superseded by a later record")
	var name string
	var attrs map[string]any
	require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT name, custom_attributes FROM contacts WHERE external_id = '42'`).Scan(&name, &attrs))
	require.Equal(t, "Kay Jones", name)
	require.Equal(t, map[string]any{"vip": true, "seats": float64(12)}, attrs)
	require.Equal(t, int64(1), e.count(`SELECT count(*) FROM contacts WHERE email = 'fresher@example.com' AND external_id = '46'`))

	s, _ = e.run(importer.KindContacts, path)
	require.Equal(t, counts(0, 0, 3, 4), s.Counts)
	require.Equal(t, int64(4), e.count(`SELECT count(*) FROM contacts`))
}

func TestImportConversations(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var agentID int64
	require.NoError(t, e.db.Pool.QueryRow(ctx, `INSERT INTO members (workspace_id, email, name, role, status)
		VALUES ($1, 'sam@acme.test', 'Sam', 'agent', 'active') RETURNING id`, e.ws).Scan(&agentID))
	_, err := e.db.Pool.Exec(ctx, `INSERT INTO channels (workspace_id, kind, name) VALUES ($1, 'email', 'Support inbox')`, e.ws)
	require.NoError(t, err)

	conv1 := `{"external_id": "t-1", "subject": "Card not arrived", "status": "resolved", "priority": "high", "channel": "email",
 "contact": {"external_id": "u-1", "email": "pat@example.com", "name": "Pat"}, "assignee_email": "sam@acme.test", "tags": ["cards", "Cards", " delivery ", ""],
 "messages": [
  {"author_type": "contact", "body": "My card has not arrived.", "created_at": "2026-01-05T10:00:00Z"},
  {"author_type": "agent", "author_email": "sam@acme.test", "body": "Sorry! Checking.", "created_at": "2026-01-05T10:15:00Z"},
  {"author_type": "agent", "body": "internal: courier delay", "private": true, "created_at": "2026-01-05T10:16:00Z"},
  {"external_id": "m-4", "author_type": "agent", "author_email": "sam@acme.test", "body": "It ships today.", "created_at": "2026-01-05T11:00:00Z"}],
 "rating": {"score": 5, "comment": "Quick and kind"}}`
	conv2 := `{"external_id": "t-2", "subject": "Refund", "channel": "Support Inbox", "contact": {"email": "PAT@example.com"}, "assignee_email": "gone@acme.test",
 "messages": [{"author_type": "contact", "body": "Refund please", "created_at": "2026-01-06T09:00:00Z"}]}`
	conv3 := `{"external_id": "t-3", "channel": "Partner API", "messages": [{"author_type": "bot", "body": "hello", "created_at": "2026-01-07T09:00:00Z"}]}`
	lines := []string{
		strings.ReplaceAll(conv1, "\n", ""),
		strings.ReplaceAll(conv2, "\n", ""),
		`{"external_id": "t-4", "status": "escalated"}`,
		`{"external_id": "t-5", "subjet": "typo"}`,
		`{"subject": "no id"}`,
		`{"external_id": "t-6", "messages": [{"author_type": "agent", "body": "x"}]}`,
		`not json`,
		conv3,
	}
	path := e.write("conversations.jsonl", strings.Join(lines, "\n")+"\n")
	s, report := e.run(importer.KindConversations, path)
	require.Equal(t, counts(3, 0, 0, 5), s.Counts, report)
	require.Equal(t, counts(6, 0, 0, 0), s.Messages)
	require.Equal(t, int64(1), s.ContactsCreated) // pat@ once, though named twice
	require.Equal(t, int64(1), s.Warnings)
	for _, want := range []string{
		`conversations.jsonl:2: warning: assignee "gone@acme.test" is not a member`,
		`conversations.jsonl:3: status: "escalated" is not one of open, pending, snoozed, resolved, closed`,
		`conversations.jsonl:4: unknown field "subjet"`,
		`conversations.jsonl:5: external_id: required`,
		`conversations.jsonl:6: messages[0].created_at: required`,
		`conversations.jsonl:7: invalid JSON`,
	} {
		require.Contains(t, report, want)
	}

	var status, priority string
	var tags []string
	var assignee *int64
	var firstResp, resolved, lastMsg *string
	require.NoError(t, e.db.Pool.QueryRow(ctx, `
		SELECT status, priority, tags, assignee_member_id, to_char(first_response_at AT TIME ZONE 'UTC', 'HH24:MI'),
		       to_char(resolved_at AT TIME ZONE 'UTC', 'HH24:MI'), to_char(last_message_at AT TIME ZONE 'UTC', 'HH24:MI')
		FROM conversations WHERE external_id = 't-1'`).Scan(&status, &priority, &tags, &assignee, &firstResp, &resolved, &lastMsg))
	require.Equal(t, "resolved", status)
	require.Equal(t, "high", priority)
	require.Equal(t, []string{"cards", "delivery"}, tags)
	require.Equal(t, agentID, *assignee)
	require.Equal(t, "10:15", *firstResp)
	require.Equal(t, "11:00", *resolved)
	require.Equal(t, "11:00", *lastMsg)
	// Both conversations belong to the one contact, found by email the second time.
	require.Equal(t, int64(1), e.count(`SELECT count(DISTINCT contact_id) FROM conversations WHERE external_id IN ('t-1', 't-2')`))
	// "email" found the channel by kind, "Support Inbox" by name; "Partner API" was created as an api channel.
	require.Equal(t, int64(1), e.count(`SELECT count(DISTINCT channel_id) FROM conversations WHERE external_id IN ('t-1', 't-2')`))
	require.Equal(t, int64(1), e.count(`SELECT count(*) FROM channels WHERE name = 'Partner API' AND kind = 'api'`))
	require.Equal(t, int64(2), e.count(`SELECT count(*) FROM messages WHERE author_member_id = $1`, agentID))
	require.Equal(t, int64(2), e.count(`SELECT count(*) FROM messages WHERE author_contact_id IS NOT NULL`))
	require.Equal(t, int64(1), e.count(`SELECT count(*) FROM satisfaction_ratings WHERE score = 5 AND comment = 'Quick and kind'`))
	require.Equal(t, int64(6), e.count(`SELECT count(*) FROM index_log WHERE kind = 'message'`))
	require.Equal(t, int64(3), e.count(`SELECT count(*) FROM index_log WHERE kind = 'conversation'`))

	// Re-run: nothing changes.
	s, _ = e.run(importer.KindConversations, path)
	require.Equal(t, counts(0, 0, 3, 5), s.Counts)
	require.Equal(t, counts(0, 0, 6, 0), s.Messages)
	require.Equal(t, int64(6), e.count(`SELECT count(*) FROM messages`))
	require.Equal(t, int64(10), e.count(`SELECT count(*) FROM index_log`)) // 6 messages, 3 conversations, 1 contact

	// A corrected message body (no external id: matched by time and author), one more reply,
	// a new rating comment: updated, no duplicates.
	changed := strings.Replace(lines[0], "Sorry! Checking.", "Sorry! Checking now.", 1)
	changed = strings.Replace(changed, "Quick and kind", "Quick and very kind", 1)
	changed = strings.Replace(changed, `"created_at": "2026-01-05T11:00:00Z"}]`,
		`"created_at": "2026-01-05T11:00:00Z"}, {"author_type": "contact", "body": "Thanks!", "created_at": "2026-01-05T12:00:00Z"}]`, 1)
	require.NotEqual(t, lines[0], changed)
	path2 := e.write("changed.jsonl", changed+"\n"+lines[1]+"\n")
	s, report = e.run(importer.KindConversations, path2)
	require.Equal(t, counts(0, 1, 1, 0), s.Counts, report)
	require.Equal(t, counts(1, 1, 4, 0), s.Messages)
	require.Equal(t, int64(7), e.count(`SELECT count(*) FROM messages`))
	require.Equal(t, int64(1), e.count(`SELECT count(*) FROM messages WHERE body = 'Sorry! Checking now.'`))
	require.Equal(t, int64(0), e.count(`SELECT count(*) FROM messages WHERE body = 'Sorry! Checking.'`))
	require.Equal(t, int64(1), e.count(`SELECT count(*) FROM satisfaction_ratings WHERE comment = 'Quick and very kind'`))
	require.Equal(t, int64(1), e.count(`SELECT count(*) FROM conversations WHERE external_id = 't-1' AND last_message_at = '2026-01-05T12:00:00Z'`))
	require.Equal(t, int64(8), e.count(`SELECT count(*) FROM index_log WHERE kind = 'message'`))
	require.Equal(t, int64(4), e.count(`SELECT count(*) FROM index_log WHERE kind = 'conversation'`))
}

func TestImportTickets(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	path := e.write("c.jsonl", `{"external_id": "conv-1", "created_at": "2026-02-01T08:00:00Z"}`+"\n")
	e.run(importer.KindConversations, path)

	tickets := `{"external_id": "T-1", "subject": "Broken login", "description": "Cannot sign in", "status": "on_hold", "priority": "urgent", "contact": {"email": "lee@example.com", "name": "Lee"}, "conversation_external_id": "conv-1", "tags": ["auth"], "custom_fields": {"severity": 2, "area": "sso"}, "created_at": "2026-02-01T09:00:00Z"}
{"external_id": "T-2", "subject": "Invoice copy", "status": "closed", "created_at": "2026-02-02T09:00:00Z", "updated_at": "2026-02-03T09:00:00Z"}
{"external_id": "T-3", "subject": "Orphan", "conversation_external_id": "missing-conv"}
{"external_id": "T-4", "subject": ""}
{"external_id": "T-5", "subject": "Bad status", "status": "done"}
`
	tp := e.write("tickets.jsonl", tickets)
	s, report := e.run(importer.KindTickets, tp)
	require.Equal(t, counts(2, 0, 0, 3), s.Counts, report)
	require.Contains(t, report, `tickets.jsonl:3: conversation "missing-conv" not found`)
	require.Contains(t, report, `tickets.jsonl:4: subject: required`)
	require.Contains(t, report, `tickets.jsonl:5: status: "done" is not one of open, pending, on_hold, solved, closed`)
	require.Equal(t, int64(1), s.ContactsCreated)
	var cf map[string]any
	var closedAt *string
	require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT custom_fields FROM tickets WHERE external_id = 'T-1' AND conversation_id IS NOT NULL AND contact_id IS NOT NULL`).Scan(&cf))
	require.Equal(t, map[string]any{"severity": float64(2), "area": "sso"}, cf)
	require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT to_char(closed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') FROM tickets WHERE external_id = 'T-2'`).Scan(&closedAt))
	require.Equal(t, "2026-02-03", *closedAt)

	s, _ = e.run(importer.KindTickets, tp)
	require.Equal(t, counts(0, 0, 2, 3), s.Counts)
	require.Equal(t, int64(2), e.count(`SELECT count(*) FROM tickets`))

	tp2 := e.write("tickets2.jsonl", strings.Replace(tickets, `"priority": "urgent"`, `"priority": "low"`, 1))
	s, _ = e.run(importer.KindTickets, tp2)
	require.Equal(t, counts(0, 1, 1, 3), s.Counts)
	require.Equal(t, int64(1), e.count(`SELECT count(*) FROM tickets WHERE priority = 'low'`))
}

// contactsFile writes n contacts as CSV.
func (e *env) contactsFile(name string, n int) string {
	var b strings.Builder
	b.WriteString("external_id,name,email,company\n")
	for i := range n {
		fmt.Fprintf(&b, "x%d,Person %d,p%d@example.com,Company %d\n", i, i, i, i%50)
	}
	return e.write(name, b.String())
}

func TestImportResumesAfterCancellation(t *testing.T) {
	e := newEnv(t)
	const n = 3000
	path := e.contactsFile("big.csv", n)

	// Cancel between batches: after the third commit.
	ctx, cancel := context.WithCancel(context.Background())
	batches := 0
	cfg := importer.Config{DB: e.db, WorkspaceID: e.ws, BatchSize: 250, OnBatch: func(postgres.ImportProgress) {
		batches++
		if batches == 3 {
			cancel()
		}
	}}
	s, err := importer.Import(ctx, cfg, importer.KindContacts, path)
	require.ErrorIs(t, err, importer.ErrInterrupted)
	require.Equal(t, int64(750), s.Counts.Created)
	require.Equal(t, int64(750), e.count(`SELECT count(*) FROM contacts`))

	cfg.OnBatch = nil
	s, err = importer.Import(context.Background(), cfg, importer.KindContacts, path)
	require.NoError(t, err)
	require.Equal(t, int64(751), s.ResumedAtLine) // header + 750 records
	require.Equal(t, counts(n, 0, 0, 0), s.Counts)
	require.Equal(t, int64(n), e.count(`SELECT count(*) FROM contacts`))
	require.Equal(t, int64(n), e.count(`SELECT count(*) FROM index_log WHERE kind = 'contact'`))

	// A finished file imports again from the start, as a no-op.
	s, err = importer.Import(context.Background(), cfg, importer.KindContacts, path)
	require.NoError(t, err)
	require.Zero(t, s.ResumedAtLine)
	require.Equal(t, counts(0, 0, n, 0), s.Counts)
}

func TestImportResumesAfterCancellationMidBatch(t *testing.T) {
	e := newEnv(t)
	const n = 4000
	path := e.write("convs.jsonl", func() string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, `{"external_id":"c%d","contact":{"email":"u%d@example.com"},"messages":[{"author_type":"contact","body":"question %d","created_at":"2026-03-01T10:00:00Z"},{"author_type":"agent","body":"answer %d","created_at":"2026-03-01T10:05:00Z"}]}`+"\n", i, i%700, i, i)
		}
		return b.String()
	}())
	// Cancel at whatever point a batch is in: the batch in flight rolls back whole.
	interrupted := 0
	for attempt := 0; attempt < 50; attempt++ {
		ctx, cancel := context.WithCancel(context.Background())
		cfg := importer.Config{DB: e.db, WorkspaceID: e.ws, BatchSize: 300, OnBatch: func(postgres.ImportProgress) {
			go func() { cancel() }() // lands somewhere in the next batch
		}}
		s, err := importer.Import(ctx, cfg, importer.KindConversations, path)
		cancel()
		if err == nil {
			require.Equal(t, int64(n), s.Counts.Total())
			break
		}
		require.ErrorIs(t, err, importer.ErrInterrupted)
		interrupted++
	}
	require.Greater(t, interrupted, 1)
	require.Equal(t, int64(n), e.count(`SELECT count(*) FROM conversations`))
	require.Equal(t, int64(2*n), e.count(`SELECT count(*) FROM messages`))
	require.Equal(t, int64(700), e.count(`SELECT count(*) FROM contacts`))
	require.Equal(t, int64(2*n), e.count(`SELECT count(*) FROM index_log WHERE kind = 'message'`))
	require.Equal(t, int64(n), e.count(`SELECT count(*) FROM index_log WHERE kind = 'conversation'`))
	var done bool
	require.NoError(t, e.db.Pool.QueryRow(context.Background(), `SELECT done FROM import_progress`).Scan(&done))
	require.True(t, done)
}

func TestImportLimitsAndPathSafety(t *testing.T) {
	e := newEnv(t)
	long := `{"external_id": "big", "email": "big@example.com", "note": "` + strings.Repeat("x", 500) + `"}`
	path := e.write("long.jsonl", `{"external_id": "a", "email": "a@example.com"}`+"\n"+long+"\n"+`{"external_id": "b", "email": "b@example.com"}`+"\n")
	s, report := e.run(importer.KindContacts, path, func(c *importer.Config) { c.MaxRecordBytes = 200 })
	require.Equal(t, counts(2, 0, 0, 1), s.Counts)
	require.Contains(t, report, "long.jsonl:2: record longer than 200 bytes")

	nul := e.write("nul.jsonl", `{"external_id": "n", "email": "n@example.com", "name": "a\u0000b"}`+"\n")
	s, report = e.run(importer.KindContacts, nul)
	require.Equal(t, counts(0, 0, 0, 1), s.Counts)
	require.Contains(t, report, "NUL")

	_, err := importer.Import(context.Background(), importer.Config{DB: e.db, WorkspaceID: e.ws}, importer.KindContacts, e.dir)
	require.ErrorContains(t, err, "not a regular file (a directory)")
	fifo := filepath.Join(e.dir, "pipe")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	_, err = importer.Import(context.Background(), importer.Config{DB: e.db, WorkspaceID: e.ws}, importer.KindContacts, fifo)
	require.ErrorContains(t, err, "not a regular file (a named pipe)")
	loop := filepath.Join(e.dir, "loop")
	require.NoError(t, os.Symlink(loop, loop))
	_, err = importer.Import(context.Background(), importer.Config{DB: e.db, WorkspaceID: e.ws}, importer.KindContacts, loop)
	require.Error(t, err)
	_, err = importer.Import(context.Background(), importer.Config{DB: e.db, WorkspaceID: e.ws}, importer.KindContacts, e.write("empty.csv", ""))
	require.ErrorContains(t, err, "empty file")
	_, err = importer.Import(context.Background(), importer.Config{DB: e.db, WorkspaceID: e.ws}, importer.KindContacts, e.write("nokey.csv", "name,company\nA,B\n"))
	require.ErrorContains(t, err, "needs an external_id or an email column")
	require.False(t, errors.Is(err, importer.ErrInterrupted))
}
