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
// The restriction costs a step through field's postings for every document q matches, which
// at 100,000 chunks, where common words match most of them, is about as much as q itself.
// When no document of the searched snapshot has another value in field — a node whose index
// holds a single workspace — it restricts nothing and is left out. The check is made on the
// snapshot the search reads (so a workspace indexed meanwhile is not missed) and looks at no
// more than two terms of field's dictionary; terms left by deleted documents only make it
// keep the restriction.
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
	b := query.NewBooleanQuery([]query.Query{f.q}, nil, nil)
	b.AddFilter(t)
	return b.Searcher(ctx, i, m, options)
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
