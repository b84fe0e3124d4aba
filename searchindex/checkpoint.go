package searchindex

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nubiq/hub/postgres"
)

// checkpointFile is the name of the checkpoint beside an index's bleve directories.
const checkpointFile = "checkpoint.json"

// checkpoint records what a node's index holds: which bleve directory, built with which
// mapping version and for which rebuild generation, and the index-log position it has applied.
// It is written after each applied batch, once bleve has persisted it, so it may lag the
// index but never run ahead of it; replaying entries is harmless because applying an entry
// reloads the row's current state.
type checkpoint struct {
	MappingVersion int                  `json:"mapping_version"`
	Generation     int64                `json:"generation"`
	Index          string               `json:"index"` // bleve directory, relative to the index dir
	Pos            postgres.LogPosition `json:"pos"`
	Docs           uint64               `json:"docs"`
	// Stats are the BM25 collection statistics of the index (see Stats).
	Stats     *Stats    `json:"stats,omitempty"`
	BuiltAt   time.Time `json:"built_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ErrNoCheckpoint: the index directory holds no index yet.
var ErrNoCheckpoint = errors.New("no index yet")

func readCheckpoint(dir string) (*checkpoint, error) {
	b, err := os.ReadFile(filepath.Join(dir, checkpointFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoCheckpoint
	}
	if err != nil {
		return nil, err
	}
	var cp checkpoint
	if err := json.Unmarshal(b, &cp); err != nil {
		return nil, fmt.Errorf("corrupt checkpoint: %w", err)
	}
	if cp.Index == "" || filepath.Base(cp.Index) != cp.Index {
		return nil, fmt.Errorf("corrupt checkpoint: bad index directory %q", cp.Index)
	}
	return &cp, nil
}

// writeCheckpoint replaces the checkpoint atomically: a reader (or a crash) sees the old one
// or the new one, never a mixture.
func writeCheckpoint(dir string, cp *checkpoint) error {
	b, err := json.MarshalIndent(cp, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, checkpointFile+".tmp*")
	if err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // gone after a successful rename
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write checkpoint: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write checkpoint: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, checkpointFile)); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() //nolint:errcheck // best effort: the rename is durable on most filesystems anyway
		d.Close()
	}
	return nil
}

// ReadStatus reads the checkpoint of the named index under dir without opening the index
// (which a running server holds locked), for `nubiq index status`.
func ReadStatus(dir, name string) (Status, error) {
	cp, err := readCheckpoint(filepath.Join(dir, name))
	if err != nil {
		return Status{Name: name}, err
	}
	return Status{
		Name: name, MappingVersion: cp.MappingVersion, Generation: cp.Generation, Pos: cp.Pos,
		Docs: cp.Docs, Dir: filepath.Join(dir, name, cp.Index), BuiltAt: cp.BuiltAt, UpdatedAt: cp.UpdatedAt,
	}, nil
}
