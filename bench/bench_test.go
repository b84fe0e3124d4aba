package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub/bench"
	"github.com/nubiq/hub/postgres/pgtest"
)

// TestSmoke runs every section at tiny scale so the benchmark code cannot rot. It asserts
// that sections run and report well-formed rows, never how fast anything was.
func TestSmoke(t *testing.T) {
	var table bytes.Buffer
	rep, err := bench.Run(context.Background(), bench.Config{
		DatabaseURL: pgtest.URL(t),
		Chunks:      []int{300},
		Concurrency: []int{1, 2},
		Duration:    150 * time.Millisecond,
		Warmup:      20 * time.Millisecond,
		Scale:       0.01,
		Out:         &table,
	})
	require.NoError(t, err, "table so far:\n%s", table.String())
	t.Logf("\n%s", table.String())

	require.Len(t, rep.Sections, len(bench.Sections))
	tools := rep.Sections[0]
	require.Equal(t, bench.SectionTools, tools.Name)
	require.True(t, tools.Available)
	paths := map[string]bool{}
	for _, s := range rep.Sections {
		if !s.Available {
			require.NotEmpty(t, s.Note, "section %s is unavailable without saying why", s.Name)
			require.Empty(t, s.Rows, "section %s is unavailable but reports figures", s.Name)
			continue
		}
		require.NotEmpty(t, s.Rows, "section %s", s.Name)
		for _, r := range s.Rows {
			require.NotEmpty(t, r.Name)
			require.Zero(t, r.Errors, "%s %s", s.Name, r.Name)
			switch r.Unit {
			case "MiB":
				require.Positive(t, r.Value, "%s %s %s", s.Name, r.Name, r.Path)
			case "": // latencies only
				require.Positive(t, r.Ops, "%s %s %s", s.Name, r.Name, r.Path)
				require.Positive(t, r.P50ms, "%s %s %s", s.Name, r.Name, r.Path)
			default:
				require.Positive(t, r.Ops, "%s %s %s", s.Name, r.Name, r.Path)
				require.Positive(t, r.PerSecond, "%s %s %s", s.Name, r.Name, r.Path)
			}
			paths[s.Name+" "+r.Path] = true
		}
	}
	for _, p := range []string{"tools mcp/2025", "tools mcp/2026", "tools pgx", "ingest mcp+hash", "ingest mcp+noembed", "ingest copy",
		"freshness 2nd node", "search mcp", "search bleve", "search pgvector", "search bleve+pgv", "search bleve||pgv"} {
		require.True(t, paths[p], "no %s row", p)
	}

	var buf bytes.Buffer
	require.NoError(t, rep.WriteJSON(&buf))
	var back bench.Report
	require.NoError(t, json.Unmarshal(buf.Bytes(), &back))
	require.Equal(t, rep.Machine.CPUs, back.Machine.CPUs)
	require.NotEmpty(t, back.Machine.PostgreSQL)
}

// TestRefusesDatabaseWithData makes sure a mistyped URL never gets a real database emptied.
func TestRefusesDatabaseWithData(t *testing.T) {
	db := pgtest.NewDB(t)
	_, err := db.CreateWorkspace(context.Background(), "real data", "pro")
	require.NoError(t, err)
	_, err = bench.Run(context.Background(), bench.Config{DatabaseURL: db.Pool.Config().ConnString(), Only: []string{bench.SectionTools}})
	require.ErrorContains(t, err, "scratch database")
	var n int
	require.NoError(t, db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM workspaces`).Scan(&n))
	require.Equal(t, 1, n)
}
