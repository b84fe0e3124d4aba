// Package migrations embeds the numbered SQL migrations of the schema. Files are named
// NNNN_description.sql and applied in order, each once, each in its own transaction.
package migrations

import "embed"

// FS holds the migration files.
//
//go:embed *.sql
var FS embed.FS
