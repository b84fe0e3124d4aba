package importer

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nubiq/hub/postgres"
)

// WaitConfig configures WaitIndexed. Zero values get defaults.
type WaitConfig struct {
	DB          *postgres.DB
	WorkspaceID int64
	// Out receives progress: a line redrawn in place when TTY is set, else a line every
	// Interval while something changes. Default: discarded.
	Out io.Writer
	TTY bool
	// Interval is how often a plain progress line is printed. Default 2s.
	Interval time.Duration
	// Poll is how often the documents' statuses are read. Default 250ms.
	Poll time.Duration
}

// IndexResult is what WaitIndexed saw at the end.
type IndexResult struct {
	postgres.IngestCounts
	// Documents is the number of documents waited for (deleted ones are not counted).
	Documents int64
	Elapsed   time.Duration
}

// WaitIndexed waits until none of the documents ids is queued or processing, showing how
// many are ready and failed. Indexing is done by whichever nodes work the ingest queue; on
// ctx's end WaitIndexed returns what it saw with ctx's error, and the work goes on there.
func WaitIndexed(ctx context.Context, cfg WaitConfig, ids []int64) (*IndexResult, error) {
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Interval == 0 {
		cfg.Interval = 2 * time.Second
	}
	if cfg.Poll == 0 {
		cfg.Poll = 250 * time.Millisecond
	}
	ids = sortedIDs(ids)
	start := time.Now()
	res := &IndexResult{}
	var firstDone int64 = -1
	var printed time.Time
	var last string
	drawn := false
	for {
		c, err := cfg.DB.CountDocumentsByStatus(ctx, cfg.WorkspaceID, ids)
		if err != nil {
			if drawn {
				fmt.Fprintln(cfg.Out)
			}
			res.Elapsed = time.Since(start)
			return res, err
		}
		res.IngestCounts, res.Documents, res.Elapsed = c, c.Total(), time.Since(start)
		done := c.Ready + c.Failed
		if firstDone < 0 {
			firstDone = done
		}
		finished := c.Pending() == 0
		line := indexLine(c, done-firstDone, res.Elapsed)
		now := time.Now()
		switch {
		case cfg.TTY:
			if finished || now.Sub(printed) >= 100*time.Millisecond {
				fmt.Fprintf(cfg.Out, "\r\033[K%s", line)
				drawn, printed = true, now
			}
		case line != last && (finished || now.Sub(printed) >= cfg.Interval):
			fmt.Fprintln(cfg.Out, line)
			last, printed = line, now
		}
		if finished {
			if drawn {
				fmt.Fprintln(cfg.Out)
			}
			return res, nil
		}
		select {
		case <-ctx.Done():
			if drawn {
				fmt.Fprintln(cfg.Out)
			}
			return res, ctx.Err()
		case <-time.After(cfg.Poll):
		}
	}
}

func indexLine(c postgres.IngestCounts, doneHere int64, elapsed time.Duration) string {
	var b strings.Builder
	total := c.Total()
	pct := 100.0
	if total > 0 {
		pct = float64(c.Ready+c.Failed) / float64(total) * 100
	}
	fmt.Fprintf(&b, "indexing: %3.0f%%  %d ready, %d failed, %d waiting of %d documents, %d chunks",
		pct, c.Ready, c.Failed, c.Pending(), total, c.Chunks)
	if secs := elapsed.Seconds(); secs >= 1 && doneHere > 0 {
		rate := float64(doneHere) / secs
		fmt.Fprintf(&b, ", %.0f documents/s", rate)
		if c.Pending() > 0 {
			fmt.Fprintf(&b, ", ETA %s", formatDuration(time.Duration(float64(c.Pending())/rate*float64(time.Second))))
		}
	}
	return b.String()
}
