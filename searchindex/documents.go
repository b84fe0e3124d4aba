package searchindex

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/blevesearch/bleve/v2/mapping"
	index "github.com/blevesearch/bleve_index_api"

	"github.com/nubiq/hub/postgres"
)

// Fields of the documents index: one bleve document per chunk, id = chunk id in decimal.
const (
	DocFieldWorkspace = "ws"       // keyword: workspace id
	DocFieldDocument  = "doc"      // keyword, stored: document id
	DocFieldMime      = "mime"     // keyword: MIME type
	DocFieldMeta      = "meta"     // keyword: "key=value" per metadata entry
	DocFieldUpdated   = "updated"  // datetime: the document's updated_at
	DocFieldAnalyzer  = "analyzer" // keyword: the analyser (from the document's language)
	// DocFieldAll holds title, heading path and chunk text together: on SciFact one field
	// scores better than separate ones summed (see docs/SEARCH.md).
	DocFieldAll   = "all"
	DocFieldTitle = "title"
)

// DocFields lists every field of the documents index that a query may touch.
var DocFields = []string{DocFieldWorkspace, DocFieldDocument, DocFieldMime, DocFieldMeta, DocFieldUpdated, DocFieldAnalyzer, DocFieldAll, DocFieldTitle}

var documentsSpec = &spec{
	name:    Documents,
	version: 1,
	kinds:   []string{"chunk", "document"},
	fields:  DocFields,
	mapping: documentsMapping(),
	apply:   applyDocuments,
	scan:    scanDocuments,
}

func keywordField(store bool) *mapping.FieldMapping {
	f := mapping.NewKeywordFieldMapping()
	f.Store = store
	f.IncludeInAll = false
	f.IncludeTermVectors = false
	f.DocValues = false
	return f
}

func textField(analyzer string) *mapping.FieldMapping {
	f := mapping.NewTextFieldMapping()
	f.Analyzer = analyzer
	f.Store = false
	f.IncludeInAll = false
	f.IncludeTermVectors = false
	f.DocValues = false
	return f
}

func dateField() *mapping.FieldMapping {
	f := mapping.NewDateTimeFieldMapping()
	f.Store = false
	f.IncludeInAll = false
	f.DocValues = false
	return f
}

func lensField() *mapping.FieldMapping {
	f := mapping.NewTextFieldMapping()
	f.Index = false
	f.Store = true
	f.IncludeInAll = false
	f.IncludeTermVectors = false
	f.DocValues = false
	return f
}

func newIndexMapping() *mapping.IndexMappingImpl {
	im := mapping.NewIndexMapping()
	im.ScoringModel = index.BM25Scoring
	im.DefaultAnalyzer = AnalyzerDefault
	im.IndexDynamic = false
	im.StoreDynamic = false
	im.DocValuesDynamic = false
	addFoldedAnalyzer(im)
	return im
}

// documentsMapping has one document type per analyser (the type field is "analyzer"), so that
// a French document's text is stemmed as French; all types share the field names.
// DocumentsMapping returns the mapping of the documents index (its analysers serve queries).
func DocumentsMapping() *mapping.IndexMappingImpl { return documentsSpec.mapping }

func documentsMapping() *mapping.IndexMappingImpl {
	im := newIndexMapping()
	im.TypeField = DocFieldAnalyzer
	im.DefaultType = AnalyzerDefault
	build := func(analyzer string) *mapping.DocumentMapping {
		dm := mapping.NewDocumentStaticMapping()
		dm.DefaultAnalyzer = analyzer
		dm.AddFieldMappingsAt(DocFieldWorkspace, keywordField(false))
		dm.AddFieldMappingsAt(DocFieldDocument, keywordField(true))
		dm.AddFieldMappingsAt(DocFieldMime, keywordField(false))
		dm.AddFieldMappingsAt(DocFieldMeta, keywordField(false))
		dm.AddFieldMappingsAt(DocFieldAnalyzer, keywordField(false))
		dm.AddFieldMappingsAt(DocFieldUpdated, dateField())
		dm.AddFieldMappingsAt(DocFieldAll, textField(analyzer))
		dm.AddFieldMappingsAt(DocFieldTitle, textField(analyzer))
		dm.AddFieldMappingsAt(fieldLens, lensField())
		return dm
	}
	im.DefaultMapping = build(AnalyzerDefault)
	for _, a := range analyzerNames() {
		im.AddDocumentMapping(a, build(a))
	}
	return im
}

// MetadataTerms turns document metadata into "key=value" terms: strings as they are, numbers
// and booleans in their JSON form, each element of an array of those; nested objects are not
// indexed.
func MetadataTerms(meta map[string]any) []string {
	var out []string
	var add func(k string, v any)
	add = func(k string, v any) {
		switch x := v.(type) {
		case string:
			out = append(out, k+"="+x)
		case float64:
			out = append(out, k+"="+strconv.FormatFloat(x, 'f', -1, 64))
		case bool:
			out = append(out, k+"="+strconv.FormatBool(x))
		case []any:
			for _, e := range x {
				if _, nested := e.([]any); !nested {
					add(k, e)
				}
			}
		}
	}
	for k, v := range meta {
		add(k, v)
	}
	sort.Strings(out)
	return out
}

func chunkDoc(m *mapping.IndexMappingImpl, c *postgres.IndexChunk) (map[string]any, map[string]int) {
	analyzer := LanguageAnalyzer(c.Language)
	all := c.Title
	if len(c.HeadingPath) > 0 {
		all += "\n" + strings.Join(c.HeadingPath, " / ")
	}
	all += "\n" + c.Text
	doc := map[string]any{
		DocFieldWorkspace: strconv.FormatInt(c.WorkspaceID, 10),
		DocFieldDocument:  strconv.FormatInt(c.DocumentID, 10),
		DocFieldMime:      c.MimeType,
		DocFieldAnalyzer:  analyzer,
		DocFieldUpdated:   c.UpdatedAt,
		DocFieldAll:       all,
		DocFieldTitle:     c.Title,
	}
	if terms := MetadataTerms(c.Metadata); len(terms) > 0 {
		doc[DocFieldMeta] = terms
	}
	lens := map[string]int{
		DocFieldAll:   tokenCount(m, analyzer, all),
		DocFieldTitle: tokenCount(m, analyzer, c.Title),
	}
	return doc, lens
}

func putChunk(w *writer, c *postgres.IndexChunk) error {
	doc, lens := chunkDoc(w.ix.spec.mapping, c)
	w.stats.Analyzers[doc[DocFieldAnalyzer].(string)] = true
	return w.put(strconv.FormatInt(c.ID, 10), doc, lens)
}

func applyDocuments(ctx context.Context, w *writer, entries []postgres.IndexLogEntry) error {
	for ws, list := range groupByWorkspace(entries) {
		var chunkUp, docIDs []int64
		for _, e := range list {
			switch {
			case e.Kind == "chunk" && e.Op == "upsert":
				chunkUp = append(chunkUp, e.EntityID)
			case e.Kind == "chunk":
				if err := w.delete(strconv.FormatInt(e.EntityID, 10)); err != nil {
					return err
				}
			case e.Kind == "document":
				docIDs = append(docIDs, e.EntityID) // reloaded whole, upsert or delete alike
			}
		}
		if len(chunkUp) > 0 {
			chunks, err := w.ix.cfg.DB.IndexChunks(ctx, ws, chunkUp)
			if err != nil {
				return err
			}
			found := map[int64]bool{}
			for i := range chunks {
				found[chunks[i].ID] = true
				if err := putChunk(w, &chunks[i]); err != nil {
					return err
				}
			}
			for _, id := range chunkUp {
				if !found[id] {
					if err := w.delete(strconv.FormatInt(id, 10)); err != nil {
						return err
					}
				}
			}
		}
		if len(docIDs) > 0 {
			if err := reloadDocuments(ctx, w, ws, docIDs); err != nil {
				return err
			}
		}
	}
	return nil
}

// reloadDocuments makes the index hold exactly the documents' current chunks: a document's
// title, metadata or language changes every chunk, and a deleted document takes its chunks
// with it.
func reloadDocuments(ctx context.Context, w *writer, ws int64, docIDs []int64) error {
	if err := w.flush(); err != nil { // so that idsWhere sees this batch's earlier changes
		return err
	}
	chunks, err := w.ix.cfg.DB.IndexDocumentChunks(ctx, ws, docIDs)
	if err != nil {
		return err
	}
	current := map[string]bool{}
	for i := range chunks {
		current[strconv.FormatInt(chunks[i].ID, 10)] = true
	}
	for _, d := range docIDs {
		ids, err := w.idsWhere(ctx, DocFieldDocument, strconv.FormatInt(d, 10))
		if err != nil {
			return err
		}
		for _, id := range ids {
			if !current[id] {
				if err := w.delete(id); err != nil {
					return err
				}
			}
		}
	}
	for i := range chunks {
		if err := putChunk(w, &chunks[i]); err != nil {
			return err
		}
	}
	return nil
}

func scanDocuments(ctx context.Context, w *writer, ws int64) error {
	const size = 1000
	return scanPages(ctx, size, func(after int64) (int64, int, error) {
		chunks, err := w.ix.cfg.DB.IndexChunksPage(ctx, ws, after, size)
		if err != nil {
			return 0, 0, err
		}
		for i := range chunks {
			if err := putChunk(w, &chunks[i]); err != nil {
				return 0, 0, err
			}
		}
		if len(chunks) == 0 {
			return after, 0, nil
		}
		return chunks[len(chunks)-1].ID, len(chunks), nil
	})
}

// ChunkID parses a documents-index hit id.
func ChunkID(hitID string) (int64, error) {
	id, err := strconv.ParseInt(hitID, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad chunk id %q in documents index", hitID)
	}
	return id, nil
}
