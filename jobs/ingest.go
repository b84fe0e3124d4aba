package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/indexer"
	"github.com/nubiq/hub/postgres"
)

// IngestConfig tunes document ingestion. Zero values get defaults.
type IngestConfig struct {
	// Chunk sizes chunks; the chunker's defaults are about 300 tokens with 15 % overlap.
	Chunk indexer.ChunkOptions
	// EmbedBatch is how many chunks go to the embedder per call. Default 64.
	EmbedBatch int
	// VectorExactMax is the chunk count above which a workspace's chunks are moved into the
	// HNSW index (VectorIndexArgs). Default postgres.VectorExactMax, the number search ranks
	// exactly up to; tests set a small one.
	VectorExactMax int64
	// VectorCheckEvery is how often, at most, this node counts the chunks of a workspace it
	// ingests into to notice that it outgrew VectorExactMax (a count of up to that many index
	// entries). Default 10s: until then the workspace is ranked exactly, correctly.
	VectorCheckEvery time.Duration
}

func (c IngestConfig) withDefaults() IngestConfig {
	if c.EmbedBatch <= 0 {
		c.EmbedBatch = 64
	}
	if c.VectorExactMax <= 0 {
		c.VectorExactMax = postgres.VectorExactMax
	}
	if c.VectorCheckEvery <= 0 {
		c.VectorCheckEvery = 10 * time.Second
	}
	return c
}

func init() {
	addWorkers(func(w *river.Workers, d *Deps) {
		cfg := d.Ingest.withDefaults()
		river.AddWorker(w, &ingestWorker{deps: d, cfg: cfg, vectors: newVectorWatch(cfg)})
	})
}

// ingestWorker extracts, chunks and embeds one document version and writes its chunks. Its
// only write is one transaction at the end that replaces the document's chunks, so a job
// killed at any point and retried leaves one set of chunks: the old one until the retry
// commits, then the new one.
type ingestWorker struct {
	river.WorkerDefaults[nubiq.IngestDocumentArgs]
	deps    *Deps
	cfg     IngestConfig
	vectors *vectorWatch
}

func (w *ingestWorker) Work(ctx context.Context, job *river.Job[nubiq.IngestDocumentArgs]) (err error) {
	a := job.Args
	log := w.deps.Logger.With("document", a.DocumentID, "workspace", a.WorkspaceID, "version", a.Version,
		"generation", a.Generation, "job", job.ID, "attempt", job.Attempt)
	defer func() {
		if r := recover(); r != nil {
			log.Error("ingest panicked", "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("ingest panicked: %v", r)
		}
		var perm *permanentError
		if err == nil || errors.As(err, &perm) || job.Attempt < job.MaxAttempts {
			return
		}
		msg := fmt.Sprintf("indexing failed after %d attempts: %v", job.Attempt, err)
		if ferr := w.fail(ctx, a, msg); ferr != nil {
			log.Error("record failed ingest", "err", ferr)
		}
		log.Warn("document failed", "err", err)
	}()

	emb := w.deps.Embedder
	if emb == nil {
		return errors.New("no embedder configured on this node")
	}
	src, err := w.deps.DB.ClaimIngestSource(ctx, a.WorkspaceID, a.DocumentID, a.Version, a.Generation)
	if nubiq.ErrorCode(err) == nubiq.ECodeNotFound {
		log.Debug("document deleted before indexing; nothing to do")
		return nil
	} else if err != nil {
		return err
	}
	if a.Version != src.Version || a.Generation != src.Generation {
		log.Debug("stale ingest job skipped", "current_version", src.Version, "current_generation", src.Generation)
		return nil
	}

	start := time.Now()
	text, err := indexer.Extract(src.MIMEType, src.Raw)
	if err != nil {
		msg := "could not extract text: " + err.Error()
		if errors.Is(err, indexer.ErrEmptyText) {
			msg = "no text could be extracted: " + err.Error()
		}
		return w.failNow(ctx, a, msg, log)
	}
	// Postgres text cannot hold NUL; U+FFFD keeps rune offsets intact.
	text = strings.ReplaceAll(text, "\x00", "\uFFFD")
	chunks := indexer.ChunkText(text, w.cfg.Chunk)
	if len(chunks) == 0 {
		return w.failNow(ctx, a, "no text could be extracted: the document holds no words to index", log)
	}

	out := &postgres.IngestOutcome{
		WorkspaceID: a.WorkspaceID, DocumentID: a.DocumentID, Version: a.Version, Generation: a.Generation,
		ExtractedText: text, Embedder: emb.Name(), Dims: emb.Dimensions(),
		Chunks: make([]postgres.IngestChunk, len(chunks)),
	}
	inputs := make([]string, len(chunks))
	for i, c := range chunks {
		out.Chunks[i] = postgres.IngestChunk{Index: c.Index, Text: c.Text, HeadingPath: c.HeadingPath,
			Start: c.Start, End: c.End, Tokens: c.Tokens}
		inputs[i] = EmbeddingInput(src.Title, c.HeadingPath, c.Text)
	}
	for lo := 0; lo < len(inputs); lo += w.cfg.EmbedBatch {
		hi := min(lo+w.cfg.EmbedBatch, len(inputs))
		vecs, err := emb.Embed(ctx, inputs[lo:hi])
		if err != nil {
			return fmt.Errorf("embed chunks %d-%d with %s: %w", lo, hi-1, emb.Name(), err)
		}
		if len(vecs) != hi-lo {
			return fmt.Errorf("embedder %s returned %d vectors for %d texts", emb.Name(), len(vecs), hi-lo)
		}
		for i, v := range vecs {
			if len(v) != out.Dims {
				return fmt.Errorf("embedder %s returned a %d-dimensional vector, it declares %d", emb.Name(), len(v), out.Dims)
			}
			out.Chunks[lo+i].Embedding = v
		}
	}
	state, err := w.deps.DB.CommitIngest(ctx, out)
	if errors.Is(err, postgres.ErrStaleIngest) {
		log.Debug("document changed while indexing; newer job will index it")
		return nil
	} else if err != nil {
		return err
	}
	w.vectors.committed(ctx, w.deps, a.WorkspaceID, state)
	log.Debug("document indexed", "chunks", len(out.Chunks), "embedder", out.Embedder, "took", time.Since(start))
	return nil
}

// failNow marks the document failed for a reason retrying cannot fix and cancels the job.
func (w *ingestWorker) failNow(ctx context.Context, a nubiq.IngestDocumentArgs, msg string, log *slog.Logger) error {
	if err := w.fail(ctx, a, msg); err != nil {
		return err // the database hiccuped: retry, and decide again then
	}
	log.Warn("document failed", "reason", msg)
	return river.JobCancel(&permanentError{errors.New(msg)})
}

func (w *ingestWorker) fail(ctx context.Context, a nubiq.IngestDocumentArgs, msg string) error {
	// The job's context may be what ended (timeout, shutdown); the verdict must still land.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	err := w.deps.DB.FailIngest(ctx, a.WorkspaceID, a.DocumentID, a.Version, a.Generation, msg)
	if errors.Is(err, postgres.ErrStaleIngest) {
		return nil
	}
	return err
}

// EmbeddingInput is the text embedded for a chunk: the chunk preceded by the document title
// and its heading path, so that a passage deep in a section still carries what it is about.
// The stored chunk text stays the passage alone.
func EmbeddingInput(title string, headingPath []string, text string) string {
	var b strings.Builder
	b.Grow(len(title) + len(text) + 64)
	b.WriteString(title)
	for _, h := range headingPath {
		if h == title {
			continue
		}
		b.WriteString(" › ")
		b.WriteString(h)
	}
	b.WriteString("\n\n")
	b.WriteString(text)
	return b.String()
}
