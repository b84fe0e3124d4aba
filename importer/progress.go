package importer

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Progress shows how far an import is: a bar redrawn in place with rate and ETA on a
// terminal, or a plain line every Interval otherwise (logs, CI).
type Progress struct {
	w        io.Writer
	tty      bool
	label    string
	Interval time.Duration // plain lines: default 2s; the bar: redrawn at most every 100ms

	mu        sync.Mutex
	total     int64 // bytes
	startOff  int64
	start     time.Time
	startRecs int64
	done      int64
	records   int64
	drawn     bool
	printedAt time.Time
}

// NewProgress reports to w, as a bar when tty is true.
func NewProgress(w io.Writer, tty bool, label string) *Progress {
	return &Progress{w: w, tty: tty, label: label}
}

// IsTerminal reports whether f is a character device (a terminal, most likely).
func IsTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Start begins a file of total bytes, of which offset bytes and records records are already
// done (a resumed import).
func (p *Progress) Start(total, offset, records int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total, p.startOff, p.done, p.records, p.startRecs = total, offset, offset, records, records
	p.start = time.Now()
	p.printedAt = p.start
}

// Update records that done bytes and records in total are imported.
func (p *Progress) Update(done, records int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done, p.records = done, records
	now := time.Now()
	interval := p.Interval
	if interval == 0 {
		interval = 2 * time.Second
		if p.tty {
			interval = 100 * time.Millisecond
		}
	}
	if now.Sub(p.printedAt) < interval {
		return
	}
	p.printedAt = now
	p.draw(now)
}

// Println prints a line (a reported record) without garbling the bar.
func (p *Progress) Println(w io.Writer, line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.drawn && w == p.w {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
	fmt.Fprintln(w, line)
}

// Finish draws the final state and ends the bar's line.
func (p *Progress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		p.draw(time.Now())
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

func (p *Progress) draw(now time.Time) {
	elapsed := now.Sub(p.start).Seconds()
	frac := 1.0
	if p.total > 0 {
		frac = float64(p.done) / float64(p.total)
	}
	rate, eta := 0.0, "?"
	if elapsed > 0 {
		rate = float64(p.records-p.startRecs) / elapsed
		if bps := float64(p.done-p.startOff) / elapsed; bps > 0 {
			eta = formatDuration(time.Duration(float64(p.total-p.done) / bps * float64(time.Second)))
		}
	}
	if p.tty {
		const width = 30
		n := int(frac * width)
		bar := strings.Repeat("=", n) + strings.Repeat(" ", width-n)
		fmt.Fprintf(p.w, "\r\033[K%s [%s] %3.0f%%  %d records  %.0f/s  ETA %s", p.label, bar, frac*100, p.records, rate, eta)
		p.drawn = true
		return
	}
	fmt.Fprintf(p.w, "%s: %.0f%% (%s of %s), %d records, %.0f records/s, ETA %s\n",
		p.label, frac*100, formatBytes(p.done), formatBytes(p.total), p.records, rate, eta)
}

func formatDuration(d time.Duration) string {
	d = d.Round(time.Second)
	if d < time.Minute {
		return fmt.Sprintf("%ds", int(d.Seconds()))
	}
	if d < time.Hour {
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
