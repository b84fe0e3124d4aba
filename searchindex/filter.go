package searchindex

import (
	"context"

	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
	index "github.com/blevesearch/bleve_index_api"
)

// Filtered restricts q to the documents whose keyword field holds value, without scoring the
// restriction: the documents q matches keep exactly the scores q gives them. Every document
// of the index must have a value in field (as every chunk has a workspace).
//
// The restriction is a conjunction with a weight-0 term: bleve leapfrogs between the term's
// postings and q's, so a workspace that is a small share of a shared index costs in
// proportion to its own chunks. But a workspace that is most of the index is stepped through
// and scored for nearly every document q matches, which at 100,000 chunks, where common words
// match most of them, is about as much work as q itself. So when no document of the searched
// snapshot has another value in field — a node whose index holds a single workspace — the
// restriction is left out: it could not exclude anything. The check is made on the snapshot
// the search reads (so a workspace indexed meanwhile is not missed) and looks at no more than
// two terms of field's dictionary; terms left by deleted documents only keep the restriction.
func Filtered(q query.Query, field, value string) query.Query {
	return &filtered{q: q, field: field, value: value}
}

type filtered struct {
	q            query.Query
	field, value string
}

func (f *filtered) Searcher(ctx context.Context, i index.IndexReader, m mapping.IndexMapping, options search.SearcherOptions) (search.Searcher, error) {
	sole, err := soleValue(i, f.field, f.value)
	if err != nil {
		return nil, err
	}
	if sole {
		return f.q.Searcher(ctx, i, m, options)
	}
	t := query.NewTermQuery(f.value)
	t.SetField(f.field)
	t.SetBoost(0)
	return query.NewConjunctionQuery([]query.Query{t, f.q}).Searcher(ctx, i, m, options)
}

// soleValue reports whether value is the only term of field in the snapshot.
func soleValue(i index.IndexReader, field, value string) (bool, error) {
	d, err := i.FieldDict(field)
	if err != nil {
		return false, err
	}
	defer d.Close()
	found := false
	for {
		e, err := d.Next()
		if err != nil {
			return false, err
		}
		if e == nil {
			return found, nil
		}
		if e.Term != value {
			return false, nil
		}
		found = true
	}
}
