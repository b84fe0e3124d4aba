package searchindex_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/postgres"
	"github.com/nubiq/hub/postgres/pgtest"
	"github.com/nubiq/hub/search/searchtest"
	"github.com/nubiq/hub/searchindex"
)

// contactIDs runs a contact search on a node and returns the ids found.
func contactIDs(t *testing.T, env *searchtest.Env, ws int64, p nubiq.ContactSearch) []int64 {
	t.Helper()
	res, err := env.Service.Contacts(context.Background(), ws, p)
	require.NoError(t, err)
	var ids []int64
	for _, c := range res.Results {
		ids = append(ids, c.Contact.ID)
	}
	return ids
}

// eventually polls cond every few milliseconds until it holds or timeout passes, and returns
// how long it took.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("%s: not true after %s", what, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// A transaction that takes an index-log sequence number and commits after a later one must
// be applied, not skipped: a reader checkpointing on seq alone would have moved past it when
// it applied the later one. Meanwhile the later one must not wait for it.
func TestLateCommitIsAppliedAndDoesNotHoldOthersBack(t *testing.T) {
	db := pgtest.NewDB(t)
	env := searchtest.New(t, db)
	ws := searchtest.Workspace(t, db, "acme")
	env.Sync(t)
	ctx := context.Background()

	early, err := db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer early.Rollback(ctx) //nolint:errcheck
	var earlyID int64
	require.NoError(t, early.QueryRow(ctx, `INSERT INTO contacts (workspace_id, name) VALUES ($1, 'Alice Early') RETURNING id`, ws).Scan(&earlyID))
	var earlyTx string
	var earlySeq int64
	require.NoError(t, early.QueryRow(ctx, `
		INSERT INTO index_log (workspace_id, kind, entity_id, op) VALUES ($1, 'contact', $2, 'upsert')
		RETURNING txid::text, seq`, ws, earlyID).Scan(&earlyTx, &earlySeq))
	earlyTxID, _ := strconv.ParseUint(earlyTx, 10, 64)
	earlyPos := postgres.LogPosition{TxID: earlyTxID, Seq: earlySeq}

	lateID := searchtest.AddContact(t, db, ws, searchtest.Contact{Name: "Bob Late"})
	var lateSeq int64
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT max(seq) FROM index_log WHERE entity_id = $1 AND kind = 'contact'`, lateID).Scan(&lateSeq))
	require.Less(t, earlySeq, lateSeq, "the early transaction took the smaller sequence number")

	// The later transaction is searchable although the earlier one is still open...
	eventually(t, 5*time.Second, "Bob searchable while Alice's transaction is open", func() bool {
		return slices.Contains(contactIDs(t, env, ws, nubiq.ContactSearch{Name: "Bob"}), lateID)
	})
	// ...but the checkpoint stays before the open transaction's entry.
	require.True(t, env.Indexes.Contacts.Status().Pos.Less(earlyPos), "checkpoint %s passed the open transaction's entry %s",
		env.Indexes.Contacts.Status().Pos, earlyPos)

	require.NoError(t, early.Commit(ctx))
	eventually(t, 5*time.Second, "Alice searchable after her transaction commits", func() bool {
		return slices.Contains(contactIDs(t, env, ws, nubiq.ContactSearch{Name: "Alice"}), earlyID)
	})
	// The checkpoint passes the entry once no older transaction is open anywhere in the
	// cluster (the snapshot xmin is cluster-wide: other databases' writers can hold it back
	// for a moment), so this waits instead of expecting it right after Sync.
	eventually(t, 20*time.Second, "checkpoint passes Alice's entry", func() bool {
		return !env.Indexes.Contacts.Status().Pos.Less(earlyPos)
	})

	// A node starting from the checkpoint alone (no memory of what it read ahead) agrees.
	env.Stop()
	again := searchtest.New(t, db, searchtest.WithDir(env.Dir))
	again.Sync(t)
	require.Equal(t, []int64{earlyID}, contactIDs(t, again, ws, nubiq.ContactSearch{Name: "Alice"}))
	require.Equal(t, []int64{lateID}, contactIDs(t, again, ws, nubiq.ContactSearch{Name: "Bob"}))
}

// Two nodes with their own index directories follow one database; a committed change is
// searchable on both within a second (p95), at the default poll interval.
func TestFreshnessAcrossTwoNodes(t *testing.T) {
	db := pgtest.NewDB(t)
	poll := searchtest.WithIndexes(func(c *searchindex.Config) { c.PollInterval = 100 * time.Millisecond })
	a := searchtest.New(t, db, poll)
	b := searchtest.New(t, db, poll)
	ws := searchtest.Workspace(t, db, "acme")
	a.Sync(t)
	b.Sync(t)

	const n = 30
	var lat []time.Duration
	for i := range n {
		name := "Freshperson" + strconv.Itoa(i) + "x"
		var committed time.Time
		var id int64
		if i%2 == 0 {
			id = searchtest.AddContact(t, db, ws, searchtest.Contact{Name: name})
			committed = time.Now()
		} else {
			id = a.AddDocument(t, ws, searchtest.Doc{Title: name, Text: "All about " + name})
			committed = time.Now()
		}
		for _, node := range []*searchtest.Env{a, b} {
			eventually(t, 5*time.Second, name+" searchable", func() bool {
				if i%2 == 0 {
					return slices.Contains(contactIDs(t, node, ws, nubiq.ContactSearch{Name: name}), id)
				}
				res, err := node.Service.Documents(context.Background(), ws, nubiq.DocumentSearch{Query: name, Mode: nubiq.SearchKeyword})
				require.NoError(t, err)
				return len(res.Results) > 0 && res.Results[0].DocumentID == id
			})
			lat = append(lat, time.Since(committed))
		}
	}
	slices.Sort(lat)
	p50, p95 := lat[len(lat)/2], lat[len(lat)*95/100]
	t.Logf("commit to searchable on both nodes: p50 %s, p95 %s, max %s (%d observations)", p50, p95, lat[len(lat)-1], len(lat))
	require.Less(t, p95, time.Second)
}

// searchSnapshot records what a node answers to a fixed set of searches.
type searchSnapshot struct {
	Documents     map[string][]nubiq.DocumentHit
	Conversations []nubiq.ConversationHit
	Contacts      []nubiq.ContactHit
}

func snapshot(t *testing.T, env *searchtest.Env, ws int64) searchSnapshot {
	t.Helper()
	ctx := context.Background()
	s := searchSnapshot{Documents: map[string][]nubiq.DocumentHit{}}
	for _, mode := range nubiq.SearchModes {
		res, err := env.Service.Documents(ctx, ws, nubiq.DocumentSearch{Query: "reset the router password", Mode: mode})
		require.NoError(t, err)
		require.False(t, res.IndexRebuilding)
		s.Documents[mode] = res.Results
	}
	cr, err := env.Service.Conversations(ctx, ws, nubiq.ConversationSearch{Query: "refund"})
	require.NoError(t, err)
	s.Conversations = cr.Results
	pr, err := env.Service.Contacts(ctx, ws, nubiq.ContactSearch{Query: "acme"})
	require.NoError(t, err)
	s.Contacts = pr.Results
	// Scores are compared to 9 decimals: bleve may sum a disjunction's parts in another
	// order after a rebuild.
	for _, hits := range s.Documents {
		for i := range hits {
			hits[i].Score = round9(hits[i].Score)
		}
	}
	for i := range s.Conversations {
		s.Conversations[i].Score = round9(s.Conversations[i].Score)
		for j := range s.Conversations[i].Matches {
			s.Conversations[i].Matches[j].Score = round9(s.Conversations[i].Matches[j].Score)
		}
	}
	for i := range s.Contacts {
		s.Contacts[i].Score = round9(s.Contacts[i].Score)
	}
	return s
}

func round9(f float64) float64 { return math.Round(f*1e9) / 1e9 }

func seed(t *testing.T, env *searchtest.Env, ws int64) {
	env.AddDocuments(t, ws,
		searchtest.Doc{Title: "Router setup", Text: "Plug the router in.\n\n---\n\nTo reset the router password, hold the reset button for ten seconds."},
		searchtest.Doc{Title: "Passwords", Text: "Change your account password from the profile page."},
		searchtest.Doc{Title: "Billing", Text: "Invoices are monthly."},
	)
	c1 := searchtest.AddConversation(t, env.DB, ws, searchtest.Conversation{Subject: "Refund request"})
	searchtest.AddMessage(t, env.DB, ws, c1, searchtest.Message{Body: "I would like a refund for my last order."})
	c2 := searchtest.AddConversation(t, env.DB, ws, searchtest.Conversation{Subject: "Question"})
	searchtest.AddMessage(t, env.DB, ws, c2, searchtest.Message{Body: "Is a refund possible after 30 days?"})
	searchtest.AddContact(t, env.DB, ws, searchtest.Contact{Name: "Ana Acme", Company: "Acme Corp"})
	searchtest.AddContact(t, env.DB, ws, searchtest.Contact{Name: "Bo Other", Email: "bo@acme.io"})
}

// Deleting a stopped node's index directory makes it rebuild from Postgres on start, with
// the same answers as before, scores included.
func TestRebuildAfterDeletingIndexDirectory(t *testing.T) {
	db := pgtest.NewDB(t)
	env := searchtest.New(t, db)
	ws := searchtest.Workspace(t, db, "acme")
	seed(t, env, ws)
	env.Sync(t)
	before := snapshot(t, env, ws)
	require.NotEmpty(t, before.Documents[nubiq.SearchHybrid])
	require.Len(t, before.Conversations, 2)
	require.Len(t, before.Contacts, 2)

	env.Stop()
	require.NoError(t, os.RemoveAll(env.Dir))
	again := searchtest.New(t, db, searchtest.WithDir(env.Dir))
	again.Sync(t)
	require.Equal(t, before, snapshot(t, again, ws))
}

// Deleting the index directory while the node serves: it notices, rebuilds in the
// background, and answers as before.
func TestRebuildAfterDeletingIndexDirectoryWhileServing(t *testing.T) {
	db := pgtest.NewDB(t)
	env := searchtest.New(t, db)
	ws := searchtest.Workspace(t, db, "acme")
	seed(t, env, ws)
	env.Sync(t)
	before := snapshot(t, env, ws)

	require.NoError(t, os.RemoveAll(filepath.Join(env.Dir, searchindex.Documents)))
	eventually(t, 10*time.Second, "rebuild noticed", func() bool { return env.Indexes.Documents.Rebuilding() })
	env.Sync(t)
	require.Equal(t, before, snapshot(t, env, ws))
	_, err := os.Stat(filepath.Join(env.Dir, searchindex.Documents, "checkpoint.json"))
	require.NoError(t, err)
}

// `nubiq index rebuild` bumps a generation; a running node rebuilds that index and keeps
// answering meanwhile.
func TestRequestedRebuild(t *testing.T) {
	db := pgtest.NewDB(t)
	env := searchtest.New(t, db)
	ws := searchtest.Workspace(t, db, "acme")
	seed(t, env, ws)
	env.Sync(t)
	before := snapshot(t, env, ws)
	dirBefore := env.Indexes.Documents.Status().Dir

	gens, err := db.RequestSearchIndexRebuild(context.Background(), []string{searchindex.Documents}, "test")
	require.NoError(t, err)
	require.Equal(t, int64(1), gens[searchindex.Documents])
	eventually(t, 10*time.Second, "rebuilt for generation 1", func() bool {
		st := env.Indexes.Documents.Status()
		return st.Generation == 1 && !st.Rebuilding
	})
	require.NotEqual(t, dirBefore, env.Indexes.Documents.Status().Dir)
	_, err = os.Stat(dirBefore)
	require.True(t, os.IsNotExist(err), "old index directory removed")
	require.Equal(t, before, snapshot(t, env, ws))
}

// A checkpoint written for another mapping version, or an unreadable one, means rebuild.
func TestOutdatedOrCorruptCheckpointRebuilds(t *testing.T) {
	db := pgtest.NewDB(t)
	env := searchtest.New(t, db)
	ws := searchtest.Workspace(t, db, "acme")
	seed(t, env, ws)
	env.Sync(t)
	before := snapshot(t, env, ws)
	env.Stop()

	cpPath := filepath.Join(env.Dir, searchindex.Contacts, "checkpoint.json")
	b, err := os.ReadFile(cpPath)
	require.NoError(t, err)
	var cp map[string]any
	require.NoError(t, json.Unmarshal(b, &cp))
	cp["mapping_version"] = 0
	b, _ = json.Marshal(cp)
	require.NoError(t, os.WriteFile(cpPath, b, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(env.Dir, searchindex.Conversations, "checkpoint.json"), []byte("{not json"), 0o644))

	again := searchtest.New(t, db, searchtest.WithDir(env.Dir))
	again.Sync(t)
	require.Equal(t, before, snapshot(t, again, ws))
	for _, ix := range again.Indexes.All() {
		st := ix.Status()
		require.False(t, st.Rebuilding)
		require.Equal(t, 1, st.MappingVersion)
	}
}

// Updates and deletes reach the index: a document's new title, a removed chunk, a deleted
// document, a contact deleted, and the BM25 statistics stay those of a fresh build.
func TestChangesAndStatistics(t *testing.T) {
	db := pgtest.NewDB(t)
	env := searchtest.New(t, db)
	ws := searchtest.Workspace(t, db, "acme")
	ctx := context.Background()
	ids := env.AddDocuments(t, ws,
		searchtest.Doc{Title: "Kettle manual", Text: "Fill the kettle.\n\n---\n\nDescale the kettle monthly.\n\n---\n\nWarranty lasts two years."},
		searchtest.Doc{Title: "Toaster manual", Text: "Toast bread."},
	)
	contact := searchtest.AddContact(t, db, ws, searchtest.Contact{Name: "Zed Gone"})
	env.Sync(t)
	find := func(q string) []int64 {
		res, err := env.Service.Documents(ctx, ws, nubiq.DocumentSearch{Query: q, Mode: nubiq.SearchKeyword, Chunks: true})
		require.NoError(t, err)
		var out []int64
		for _, h := range res.Results {
			out = append(out, h.ChunkID)
		}
		return out
	}
	chunks := searchtest.ChunkIDs(t, db, ids[0])
	require.ElementsMatch(t, chunks, find("kettle"), "title words match every chunk")

	// Retitle the document and drop its warranty chunk, as a new version would.
	searchtest.Exec(t, db, `UPDATE documents SET title = 'Jug manual', updated_at = now() WHERE id = $1`, ids[0])
	searchtest.Exec(t, db, `DELETE FROM document_chunks WHERE id = $1`, chunks[2])
	searchtest.Log(t, db, ws, "document", ids[0], "upsert")
	searchtest.Exec(t, db, `DELETE FROM documents WHERE id = $1`, ids[1])
	searchtest.Log(t, db, ws, "document", ids[1], "delete")
	searchtest.Exec(t, db, `DELETE FROM contacts WHERE id = $1`, contact)
	searchtest.Log(t, db, ws, "contact", contact, "delete")
	env.Sync(t)
	require.ElementsMatch(t, chunks[:2], find("jug"))
	require.Equal(t, []int64{chunks[1]}, find("descale"))
	require.Empty(t, find("warranty"))
	require.Empty(t, find("toast"))
	require.Empty(t, contactIDs(t, env, ws, nubiq.ContactSearch{Name: "Zed"}))
	docs := env.Indexes.Documents.Status().Docs
	require.Equal(t, uint64(2), docs)

	// The incrementally kept statistics equal those of a rebuild.
	incremental := *env.Indexes.Documents.Stats()
	env.Stop()
	require.NoError(t, os.RemoveAll(env.Dir))
	again := searchtest.New(t, db, searchtest.WithDir(env.Dir))
	again.Sync(t)
	rebuilt := *again.Indexes.Documents.Stats()
	require.Equal(t, rebuilt.FieldTokens, incremental.FieldTokens)
	require.Equal(t, rebuilt.FieldDocs, incremental.FieldDocs)
	require.Equal(t, int64(2), rebuilt.FieldDocs[searchindex.DocFieldAll])
}

// One writer per index: a second Set on the same directory is refused, not blocked.
func TestOneWriterPerDirectory(t *testing.T) {
	db := pgtest.NewDB(t)
	env := searchtest.New(t, db)
	_, err := searchindex.Open(searchindex.Config{Dir: env.Dir, DB: db})
	require.ErrorIs(t, err, searchindex.ErrLocked)
	env.Stop()
	s, err := searchindex.Open(searchindex.Config{Dir: env.Dir, DB: db})
	require.NoError(t, err, "free again once closed")
	require.NoError(t, s.Close())
}
