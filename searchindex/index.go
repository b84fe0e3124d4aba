// Package searchindex keeps a node's local bleve indexes — document chunks, conversation
// messages and contacts — up to date with Postgres, the only source of truth.
//
// Each index lives in its own directory under Config.Dir with a checkpoint file beside the
// bleve data. One goroutine per index (Run) tails the index_log table from the checkpoint and
// applies changes in batches: an entry names a row, and applying it reloads the row's current
// state (or deletes it from the index when the row is gone), so entries may be replayed
// safely. The log is read in (txid, seq) order and only up to the xmin of the reader's
// snapshot, so a transaction that commits late is never skipped (see
// postgres.ReadIndexLog).
//
// A missing, unreadable or outdated index (mapping version changed, or a rebuild requested
// with `nubiq index rebuild`) is rebuilt from Postgres in the background while the node keeps
// answering; searches report Rebuilding until the new index has caught up.
package searchindex

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search"

	"github.com/nubiq/hub/postgres"
)

// Index names.
const (
	Documents     = "documents"
	Conversations = "conversations"
	Contacts      = "contacts"
)

// Names lists the indexes every node keeps.
var Names = []string{Documents, Conversations, Contacts}

// Config configures a node's indexes. Zero values get defaults.
type Config struct {
	// Dir holds one directory per index (required), e.g. <data-dir>/index.
	Dir    string
	DB     *postgres.DB
	Logger *slog.Logger
	// Node names this node in search_index_nodes; default hostname and a hash of Dir.
	Node string
	// PollInterval is how often the index log is polled when idle (default 100ms). A change
	// committed in Postgres is searchable after at most about one interval plus the time to
	// apply its batch.
	PollInterval time.Duration
	// BatchSize is the most log entries applied in one bleve batch (default 1000).
	BatchSize int
	// ReportInterval is how often the node reports its position in search_index_nodes
	// (default 5s; negative disables reports).
	ReportInterval time.Duration
	// CheckInterval is how often the node checks for rebuild requests and for an index
	// directory removed from under it (default 2s).
	CheckInterval time.Duration
	// Workspace, when positive, restricts the indexes to one workspace (for evaluation runs
	// on a scratch workspace); 0 indexes every workspace.
	Workspace int64
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 100 * time.Millisecond
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 1000
	}
	if c.ReportInterval == 0 {
		c.ReportInterval = 5 * time.Second
	}
	if c.CheckInterval <= 0 {
		c.CheckInterval = 2 * time.Second
	}
	if c.Node == "" {
		host, _ := os.Hostname()
		abs, _ := filepath.Abs(c.Dir)
		h := sha256.Sum256([]byte(abs))
		c.Node = host + "/" + hex.EncodeToString(h[:4])
	}
	return c
}

// Kinds maps each index to the index-log kinds it follows.
func Kinds() map[string][]string {
	return map[string][]string{
		Documents: documentsSpec.kinds, Conversations: conversationsSpec.kinds, Contacts: contactsSpec.kinds,
	}
}

// Set is a node's three indexes.
type Set struct {
	Documents     *Index
	Conversations *Index
	Contacts      *Index
	lock          *os.File
}

// Open opens (or prepares to rebuild) every index under cfg.Dir. It does not wait for
// rebuilds: Run performs them while the indexes already answer searches.
func Open(cfg Config) (*Set, error) {
	cfg = cfg.withDefaults()
	if cfg.Dir == "" {
		return nil, errors.New("searchindex: Config.Dir is required")
	}
	if cfg.DB == nil {
		return nil, errors.New("searchindex: Config.DB is required")
	}
	lock, err := lockDir(cfg.Dir)
	if err != nil {
		return nil, err
	}
	s := &Set{lock: lock}
	if s.Documents, err = openIndex(cfg, documentsSpec); err != nil {
		lock.Close()
		return nil, err
	}
	if s.Conversations, err = openIndex(cfg, conversationsSpec); err != nil {
		s.Documents.Close()
		lock.Close()
		return nil, err
	}
	if s.Contacts, err = openIndex(cfg, contactsSpec); err != nil {
		s.Documents.Close()
		s.Conversations.Close()
		lock.Close()
		return nil, err
	}
	return s, nil
}

// ErrLocked: another Set, in this process or another, holds the index directory. Each index
// has exactly one writer.
var ErrLocked = errors.New("search index directory is in use")

// lockDir takes an exclusive lock on dir, or fails at once if someone else holds it.
func lockDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open search indexes: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open search indexes: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s (another nubiq process on the same data directory?)", ErrLocked, dir)
		}
		return nil, fmt.Errorf("lock search indexes: %w", err)
	}
	return f, nil
}

// All returns the indexes in a fixed order.
func (s *Set) All() []*Index { return []*Index{s.Documents, s.Conversations, s.Contacts} }

// Run keeps every index up to date until ctx is cancelled.
func (s *Set) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, ix := range s.All() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ix.Run(ctx)
		}()
	}
	wg.Wait()
}

// Sync waits until every index has applied every change committed before the call (and
// finished any rebuild). Tests and the evaluation command use it.
func (s *Set) Sync(ctx context.Context) error {
	for _, ix := range s.All() {
		if err := ix.Sync(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Close closes every index. Run must have returned.
func (s *Set) Close() error {
	var errs []error
	for _, ix := range s.All() {
		errs = append(errs, ix.Close())
	}
	if s.lock != nil {
		s.lock.Close() // releases the lock
		s.lock = nil
	}
	return errors.Join(errs...)
}

// spec is what differs between the indexes: mapping, log kinds, and how to load rows.
type spec struct {
	name    string
	version int // bump when the mapping or the document shape changes: nodes rebuild
	kinds   []string
	fields  []string // every field a query may touch (for BM25 statistics)
	mapping *mapping.IndexMappingImpl
	// apply turns log entries into index changes.
	apply func(ctx context.Context, w *writer, entries []postgres.IndexLogEntry) error
	// scan indexes every row of one workspace (rebuild).
	scan func(ctx context.Context, w *writer, workspaceID int64) error
}

// Index is one bleve index kept up to date from the index log.
type Index struct {
	spec *spec
	cfg  Config
	dir  string
	log  *slog.Logger

	mu      sync.RWMutex // guards live and liveDir
	live    bleve.Index  // what searches read; nil only before the first rebuild starts
	liveDir string

	rebuilding atomic.Bool
	reason     string // why a rebuild is needed; "" when not (owned by Run)
	// keepServing: the live index is sound, so it answers until the rebuilt one is ready.
	keepServing bool
	cp          checkpoint
	started     time.Time

	// stats holds BM25 collection statistics of the live index.
	stats atomic.Pointer[Stats]

	posMu   sync.Mutex
	applied postgres.LogPosition          // the live index holds every entry up to here...
	ahead   map[postgres.LogPosition]bool // ...and these, beyond it
	changed chan struct{}                 // closed and replaced when applied or rebuilding changes
	wake    chan struct{}
	closed  atomic.Bool
}

func openIndex(cfg Config, sp *spec) (*Index, error) {
	ix := &Index{
		spec: sp, cfg: cfg, dir: filepath.Join(cfg.Dir, sp.name),
		log:     cfg.Logger.With("index", sp.name),
		changed: make(chan struct{}), wake: make(chan struct{}, 1), started: time.Now().UTC(),
		ahead: map[postgres.LogPosition]bool{},
	}
	if err := os.MkdirAll(ix.dir, 0o755); err != nil {
		return nil, fmt.Errorf("open %s index: %w", sp.name, err)
	}
	ix.stats.Store(&Stats{})
	cp, err := readCheckpoint(ix.dir)
	switch {
	case errors.Is(err, ErrNoCheckpoint):
		ix.reason = "no index yet"
	case err != nil:
		ix.reason = err.Error()
	case cp.MappingVersion != sp.version:
		ix.reason = fmt.Sprintf("mapping version changed from %d to %d", cp.MappingVersion, sp.version)
	default:
		idx, err := openBleve(filepath.Join(ix.dir, cp.Index))
		if err != nil {
			ix.reason = "index unreadable: " + err.Error()
			break
		}
		ix.live, ix.liveDir, ix.cp, ix.applied = idx, filepath.Join(ix.dir, cp.Index), *cp, cp.Pos
		ix.stats.Store(statsFrom(cp))
	}
	if ix.reason != "" {
		ix.rebuilding.Store(true)
		ix.log.Info("index will be rebuilt from Postgres", "reason", ix.reason)
	}
	ix.removeStrays()
	return ix, nil
}

// openBleve opens an existing index; bleve may panic on some kinds of damage, which here is
// just another reason to rebuild.
func openBleve(path string) (idx bleve.Index, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("open bleve index: panic: %v", r)
		}
	}()
	// bleve keeps the creation-time settings in the index; a bulk-loaded index was created
	// with unsafe_batch, which must not outlive the bulk load: the checkpoint may only move
	// once a batch is on disk.
	idx, err = bleve.OpenUsing(path, map[string]any{"unsafe_batch": false})
	if err != nil {
		return nil, err
	}
	if _, err := idx.DocCount(); err != nil {
		idx.Close()
		return nil, err
	}
	return idx, nil
}

// removeStrays deletes bleve directories that the checkpoint does not name: leftovers of a
// rebuild interrupted by a crash.
func (ix *Index) removeStrays() {
	entries, _ := os.ReadDir(ix.dir)
	for _, e := range entries {
		p := filepath.Join(ix.dir, e.Name())
		if e.IsDir() && strings.HasPrefix(e.Name(), "bleve-") && p != ix.liveDir {
			os.RemoveAll(p) //nolint:errcheck
		}
	}
}

// Name is the index's name.
func (ix *Index) Name() string { return ix.spec.name }

// Mapping is the index mapping, whose analysers queries use.
func (ix *Index) Mapping() *mapping.IndexMappingImpl { return ix.spec.mapping }

// Rebuilding reports whether the index is being rebuilt, in which case results may be
// incomplete or stale.
func (ix *Index) Rebuilding() bool { return ix.rebuilding.Load() }

// Stats returns the collection statistics of the live index.
func (ix *Index) Stats() *Stats { return ix.stats.Load() }

// Search runs a request on the live index, with the index's true BM25 statistics (see
// Stats). Before the first rebuild has started there is nothing to search and the result is
// empty.
func (ix *Index) Search(ctx context.Context, req *bleve.SearchRequest) (*bleve.SearchResult, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.live == nil {
		return &bleve.SearchResult{Request: req}, nil
	}
	n, err := ix.live.DocCount()
	if err != nil {
		return nil, fmt.Errorf("search %s index: %w", ix.spec.name, err)
	}
	if req.PreSearchData == nil {
		req.PreSearchData = map[string]any{}
	}
	req.PreSearchData[search.BM25PreSearchDataKey] = ix.Stats().BM25Stats(n, ix.spec.fields)
	res, err := ix.live.SearchInContext(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("search %s index: %w", ix.spec.name, err)
	}
	return res, nil
}

// Status describes an index.
type Status struct {
	Name           string               `json:"name"`
	Node           string               `json:"node,omitempty"`
	MappingVersion int                  `json:"mapping_version"`
	Generation     int64                `json:"generation"`
	Pos            postgres.LogPosition `json:"pos"`
	Docs           uint64               `json:"docs"`
	Rebuilding     bool                 `json:"rebuilding"`
	Reason         string               `json:"reason,omitempty"`
	Dir            string               `json:"dir"`
	BuiltAt        time.Time            `json:"built_at"`
	UpdatedAt      time.Time            `json:"updated_at"`
}

// Status reports the index's state.
func (ix *Index) Status() Status {
	ix.mu.RLock()
	var docs uint64
	if ix.live != nil {
		docs, _ = ix.live.DocCount()
	}
	dir := ix.liveDir
	ix.mu.RUnlock()
	ix.posMu.Lock()
	pos := ix.applied
	ix.posMu.Unlock()
	return Status{
		Name: ix.spec.name, Node: ix.cfg.Node, MappingVersion: ix.spec.version, Generation: ix.cp.Generation,
		Pos: pos, Docs: docs, Rebuilding: ix.rebuilding.Load(), Dir: dir, BuiltAt: ix.cp.BuiltAt, UpdatedAt: ix.cp.UpdatedAt,
	}
}

// Close closes the live index.
func (ix *Index) Close() error {
	if ix.closed.Swap(true) {
		return nil
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.live == nil {
		return nil
	}
	err := ix.live.Close()
	ix.live = nil
	return err
}

func (ix *Index) setApplied(pos postgres.LogPosition) {
	ix.posMu.Lock()
	ix.applied = pos
	close(ix.changed)
	ix.changed = make(chan struct{})
	ix.posMu.Unlock()
}

func (ix *Index) notify() { ix.setApplied(ix.appliedPos()) }

func (ix *Index) appliedPos() postgres.LogPosition {
	ix.posMu.Lock()
	defer ix.posMu.Unlock()
	return ix.applied
}

// Sync waits until the index has applied every log entry of its kinds committed before the
// call, and is not rebuilding.
func (ix *Index) Sync(ctx context.Context) error {
	target, err := ix.cfg.DB.IndexLogLast(ctx, ix.spec.kinds, ix.cfg.Workspace)
	if err != nil {
		return err
	}
	ix.poke()
	for {
		ix.posMu.Lock()
		done := (!ix.applied.Less(target) || ix.ahead[target]) && !ix.rebuilding.Load()
		ch := ix.changed
		ix.posMu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sync %s index: %w", ix.spec.name, ctx.Err())
		case <-ch:
		case <-time.After(ix.cfg.PollInterval):
			ix.poke()
		}
	}
}

func (ix *Index) poke() {
	select {
	case ix.wake <- struct{}{}:
	default:
	}
}

// Run keeps the index up to date until ctx is cancelled: rebuilding it when needed, then
// tailing the log. Errors (database down, disk full) are logged and retried with backoff.
func (ix *Index) Run(ctx context.Context) {
	var (
		backoff    time.Duration
		lastReport time.Time
		lastCheck  time.Time
		lastErr    string
	)
	fail := func(what string, err error) {
		if ctx.Err() != nil {
			return
		}
		if msg := err.Error(); msg != lastErr {
			ix.log.Error(what, "err", err)
			lastErr = msg
		}
		backoff = min(max(2*backoff, 100*time.Millisecond), 5*time.Second)
	}
	for ctx.Err() == nil {
		if backoff > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
		}
		if time.Since(lastCheck) >= ix.cfg.CheckInterval {
			lastCheck = time.Now()
			if err := ix.checkGeneration(ctx); err != nil {
				fail("check rebuild requests", err)
				continue
			}
		}
		if ix.cfg.ReportInterval > 0 && time.Since(lastReport) >= ix.cfg.ReportInterval {
			lastReport = time.Now()
			ix.report(ctx)
		}
		if ix.reason != "" {
			if ix.cfg.ReportInterval > 0 {
				ix.report(ctx) // show the rebuild in `nubiq index status`
			}
			if err := ix.rebuild(ctx); err != nil {
				fail("rebuild index", err)
				continue
			}
			lastReport = time.Time{}
		}
		n, err := ix.step(ctx)
		if err != nil {
			fail("apply index log", err)
			continue
		}
		backoff, lastErr = 0, ""
		if n >= ix.cfg.BatchSize {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-ix.wake:
		case <-time.After(ix.cfg.PollInterval):
		}
	}
}

// checkGeneration schedules a rebuild when one was requested after this index was built, or
// when its directory has disappeared from under it.
func (ix *Index) checkGeneration(ctx context.Context) error {
	g, err := ix.cfg.DB.SearchIndexGeneration(ctx, ix.spec.name)
	if err != nil {
		return err
	}
	if ix.reason == "" && g > ix.cp.Generation {
		ix.reason = fmt.Sprintf("rebuild requested (generation %d)", g)
		ix.keepServing = true
		ix.log.Info("index will be rebuilt from Postgres", "reason", ix.reason)
	}
	if ix.reason == "" && ix.liveDir != "" {
		if _, err := os.Stat(filepath.Join(ix.liveDir, "index_meta.json")); errors.Is(err, os.ErrNotExist) {
			ix.reason = "index directory is gone"
			ix.log.Warn("index will be rebuilt from Postgres", "reason", ix.reason)
		}
	}
	return nil
}

func (ix *Index) report(ctx context.Context) {
	st := ix.Status()
	err := ix.cfg.DB.ReportSearchIndexNode(ctx, postgres.SearchIndexNode{
		Node: ix.cfg.Node, Index: ix.spec.name, Generation: st.Generation, Pos: st.Pos,
		Docs: int64(st.Docs), Rebuilding: st.Rebuilding, StartedAt: ix.started,
	})
	if err != nil && ctx.Err() == nil {
		ix.log.Warn("report index status", "err", err)
	}
}

// step reads one batch of the log and applies it to the live index. It returns the number of
// entries read, so that Run goes straight on when the batch was full.
func (ix *Index) step(ctx context.Context) (int, error) {
	pos := ix.appliedPos()
	b, err := ix.cfg.DB.ReadIndexLog(ctx, ix.spec.kinds, pos, ix.cfg.BatchSize, ix.cfg.Workspace)
	if err != nil {
		return 0, err
	}
	ix.mu.RLock()
	idx := ix.live
	ix.mu.RUnlock()
	w := newWriter(ix, idx)
	applied, err := ix.applyBatch(ctx, w, b)
	if err != nil {
		if errors.Is(err, errBatch) {
			ix.reason = "applying changes failed: " + err.Error()
		}
		return 0, err
	}
	if applied == 0 && b.Through == pos {
		return 0, nil
	}
	if applied > 0 || b.Through.TxID > ix.cp.Pos.TxID+1000 || time.Since(ix.cp.UpdatedAt) > 10*time.Second {
		// Moving past other kinds' entries is only worth a disk write now and then.
		if err := ix.saveCheckpoint(b.Through, w.stats); err != nil {
			return 0, err
		}
	}
	ix.stats.Store(w.stats)
	ix.setApplied(b.Through)
	if applied == 0 {
		return 0, nil // only entries applied before: do not spin on them
	}
	return len(b.Entries), nil
}

// errBatch marks a failure of bleve to apply a batch, which calls for a rebuild.
var errBatch = errors.New("bleve batch failed")

// applyBatch applies the entries of b not applied already and flushes them. Entries beyond
// the horizon are remembered, so that they are skipped when the checkpoint reaches them.
func (ix *Index) applyBatch(ctx context.Context, w *writer, b *postgres.IndexLogBatch) (int, error) {
	ix.posMu.Lock()
	todo := make([]postgres.IndexLogEntry, 0, len(b.Entries))
	for _, e := range b.Entries {
		if !ix.ahead[e.Pos] {
			todo = append(todo, e)
		}
	}
	ix.posMu.Unlock()
	if len(todo) > 0 {
		if err := ix.spec.apply(ctx, w, todo); err != nil {
			return 0, err
		}
	}
	if err := w.flush(); err != nil {
		return 0, err
	}
	ix.posMu.Lock()
	for _, e := range todo {
		if b.Ahead(e) {
			ix.ahead[e.Pos] = true
		}
	}
	for p := range ix.ahead {
		if !b.Through.Less(p) {
			delete(ix.ahead, p)
		}
	}
	ix.posMu.Unlock()
	return len(todo), nil
}

func (ix *Index) saveCheckpoint(pos postgres.LogPosition, st *Stats) error {
	cp := ix.cp
	cp.Pos = pos
	cp.UpdatedAt = time.Now().UTC()
	cp.Stats = st
	ix.mu.RLock()
	if ix.live != nil {
		cp.Docs, _ = ix.live.DocCount()
	}
	ix.mu.RUnlock()
	if err := writeCheckpoint(ix.dir, &cp); err != nil {
		return err
	}
	ix.cp = cp
	return nil
}

// newBleve creates an empty index at path. Bulk loads skip bleve's wait for each batch to
// reach disk (unsafe_batch); the index is closed and reopened before its checkpoint is written.
func newBleve(path string, m mapping.IndexMapping, bulk bool) (bleve.Index, error) {
	return bleve.NewUsing(path, m, scorch.Name, scorch.Name, map[string]any{"unsafe_batch": bulk})
}
