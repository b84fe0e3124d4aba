package search

import (
	"cmp"
	"slices"
)

// Hit is one entry of a ranking: a chunk, its document and the ranking's own score.
type Hit struct {
	ChunkID    int64
	DocumentID int64
	Score      float64
}

// Fused is an entry of a fused ranking.
type Fused struct {
	ChunkID    int64
	DocumentID int64
	Score      float64
	Keyword    bool // found by the keyword ranking
	Semantic   bool // found by the semantic ranking
}

// Fusion weighs two rankings by reciprocal rank fusion: an entry's score is
// Σ weight / (K + rank), rank counted from 1 in each ranking that has it.
type Fusion struct {
	K               float64
	KeywordWeight   float64
	SemanticWeight  float64
	PerDocument     bool // one entry per document, ranked by its documents' ranks
	KeywordPresent  bool
	SemanticPresent bool
}

// Fuse merges keyword and semantic rankings (each best first). With PerDocument, each
// ranking is first reduced to documents (a document ranks where its best chunk does), the
// documents are fused, and each is represented by its chunk with the best fused chunk score.
// A ranking that is alone keeps its own order and scores.
func Fuse(kw, sem []Hit, f Fusion) []Fused {
	switch {
	case len(sem) == 0 && !f.SemanticPresent:
		return single(kw, f.PerDocument, true)
	case len(kw) == 0 && !f.KeywordPresent:
		return single(sem, f.PerDocument, false)
	}
	chunks := map[int64]*Fused{}
	var order []int64
	add := func(list []Hit, weight float64, keyword bool) {
		for i, h := range list {
			c := chunks[h.ChunkID]
			if c == nil {
				c = &Fused{ChunkID: h.ChunkID, DocumentID: h.DocumentID}
				chunks[h.ChunkID] = c
				order = append(order, h.ChunkID)
			} else if keyword && c.Keyword || !keyword && c.Semantic {
				continue // a repeated chunk counts once, at its best rank
			}
			c.Score += weight / (f.K + float64(i+1))
			if keyword {
				c.Keyword = true
			} else {
				c.Semantic = true
			}
		}
	}
	add(kw, f.KeywordWeight, true)
	add(sem, f.SemanticWeight, false)
	if !f.PerDocument {
		out := make([]Fused, 0, len(order))
		for _, id := range order {
			out = append(out, *chunks[id])
		}
		sortFused(out)
		return out
	}

	docs := map[int64]*Fused{}
	var docOrder []int64
	addDocs := func(list []Hit, weight float64, keyword bool) {
		rank := 0
		seen := map[int64]bool{}
		for _, h := range list {
			if seen[h.DocumentID] {
				continue
			}
			seen[h.DocumentID] = true
			rank++
			d := docs[h.DocumentID]
			if d == nil {
				d = &Fused{DocumentID: h.DocumentID}
				docs[h.DocumentID] = d
				docOrder = append(docOrder, h.DocumentID)
			}
			d.Score += weight / (f.K + float64(rank))
			if keyword {
				d.Keyword = true
			} else {
				d.Semantic = true
			}
		}
	}
	addDocs(kw, f.KeywordWeight, true)
	addDocs(sem, f.SemanticWeight, false)
	best := map[int64]*Fused{}
	for _, id := range order {
		c := chunks[id]
		if b := best[c.DocumentID]; b == nil || c.Score > b.Score {
			best[c.DocumentID] = c
		}
	}
	out := make([]Fused, 0, len(docOrder))
	for _, id := range docOrder {
		d := docs[id]
		d.ChunkID = best[id].ChunkID
		out = append(out, *d)
	}
	sortFused(out)
	return out
}

func single(list []Hit, perDocument, keyword bool) []Fused {
	out := make([]Fused, 0, len(list))
	seen := map[int64]bool{}
	for _, h := range list {
		key := h.ChunkID
		if perDocument {
			key = h.DocumentID
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, Fused{ChunkID: h.ChunkID, DocumentID: h.DocumentID, Score: h.Score, Keyword: keyword, Semantic: !keyword})
	}
	return out
}

// sortFused orders by score, then by id for a stable, reproducible ranking.
func sortFused(list []Fused) {
	slices.SortStableFunc(list, func(a, b Fused) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		if c := cmp.Compare(a.DocumentID, b.DocumentID); c != 0 {
			return c
		}
		return cmp.Compare(a.ChunkID, b.ChunkID)
	})
}
