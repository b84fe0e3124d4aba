package postgres

import (
	"github.com/jackc/pgx/v5"

	"github.com/nubiq/hub"
)

// collectPage reads rows fetched with LIMIT limit+1 through scan and returns at most limit of
// them, with the cursor of the last one returned when there are more ("" at the end). It
// closes rows.
func collectPage[T any](rows pgx.Rows, limit int, scan func(pgx.Row) (T, error), cursor func(last T) nubiq.Cursor) ([]T, string, error) {
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, "", unavailable(err)
	}
	if len(out) <= limit {
		return out, "", nil
	}
	out = out[:limit]
	return out, cursor(out[limit-1]).Encode(), nil
}

// byValue adapts a scanner of *T to one of T, for lists that hold values.
func byValue[T any](scan func(pgx.Row) (*T, error)) func(pgx.Row) (T, error) {
	return func(r pgx.Row) (T, error) {
		p, err := scan(r)
		if err != nil {
			var zero T
			return zero, err
		}
		return *p, nil
	}
}
