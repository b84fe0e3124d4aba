package postgres

import "context"

// MigrateUpTo applies the migrations numbered up to upTo: tests of upgrades write data as an
// earlier schema held it.
func (db *DB) MigrateUpTo(ctx context.Context, upTo int) error {
	_, err := db.migrate(ctx, upTo)
	return err
}

// LegacyVectorIndexName names the HNSW index of versions that indexed every chunk.
func LegacyVectorIndexName(dims int) string { return legacyVectorIndexName(dims) }
