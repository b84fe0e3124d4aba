package bench

import (
	"context"
	"fmt"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// op is one operation of a load: worker is the goroutine's number, i its count of calls.
type op func(ctx context.Context, worker, i int) error

// result is what a timed load did.
type result struct {
	ops, errors int
	seconds     float64
	latencies   []time.Duration // sorted
	firstErr    error
}

func (r *result) perSecond() float64 {
	if r.seconds == 0 {
		return 0
	}
	return float64(r.ops) / r.seconds
}

// quantile returns the q-quantile latency in milliseconds (nearest rank).
func (r *result) quantile(q float64) float64 {
	if len(r.latencies) == 0 {
		return 0
	}
	i := int(q*float64(len(r.latencies))+0.5) - 1
	i = min(max(i, 0), len(r.latencies)-1)
	return float64(r.latencies[i]) / float64(time.Millisecond)
}

// row fills a Row's figures from the result.
func (r *result) row(name, path string, conc int, unit string) Row {
	return Row{Name: name, Path: path, Concurrency: conc, Ops: r.ops, Errors: r.errors, Seconds: r.seconds,
		PerSecond: r.perSecond(), Unit: unit, P50ms: r.quantile(0.50), P95ms: r.quantile(0.95), P99ms: r.quantile(0.99)}
}

// load runs f from conc goroutines for warmup, then for the timed duration, and reports the
// calls that started in the timed part. Worker goroutines carry the pprof label side=label.
// Any failed call fails the load: figures of a load that errs are not figures.
func load(ctx context.Context, conc int, warmup, duration time.Duration, label string, f op) (*result, error) {
	var (
		timing   atomic.Bool
		stop     atomic.Bool
		wg       sync.WaitGroup
		mu       sync.Mutex
		all      []time.Duration
		errs     int
		firstErr error
	)
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for w := range conc {
		wg.Go(func() {
			pprof.Do(ctx, pprof.Labels("side", label), func(ctx context.Context) {
				lat := make([]time.Duration, 0, 4096)
				nerr := 0
				var werr error
				for i := 0; !stop.Load() && ctx.Err() == nil; i++ {
					counted := timing.Load()
					t0 := time.Now()
					err := f(ctx, w, i)
					d := time.Since(t0)
					if err != nil {
						if ctx.Err() != nil && stop.Load() {
							break
						}
						nerr++
						if werr == nil {
							werr = err
						}
						cancel()
						break
					}
					if counted && !stop.Load() {
						lat = append(lat, d)
					}
				}
				mu.Lock()
				all = append(all, lat...)
				errs += nerr
				if firstErr == nil {
					firstErr = werr
				}
				mu.Unlock()
			})
		})
	}
	if warmup > 0 {
		select {
		case <-time.After(warmup):
		case <-ctx.Done():
		}
	}
	timing.Store(true)
	start := time.Now()
	select {
	case <-time.After(duration):
	case <-ctx.Done():
	}
	stop.Store(true)
	elapsed := time.Since(start)
	wg.Wait()
	if firstErr != nil {
		return nil, fmt.Errorf("%d failed call(s), the first: %w", errs, firstErr)
	}
	if err := parent.Err(); err != nil {
		return nil, err
	}
	slices.Sort(all)
	return &result{ops: len(all), errors: errs, seconds: elapsed.Seconds(), latencies: all}, nil
}

// variant is one way of doing the same work, measured against the others.
type variant struct {
	name  string
	label string // pprof label of its load goroutines
	op    op
}

// compare measures variants in interleaved rounds: each variant is warmed up once, then every
// round runs each variant in turn for duration/rounds. Other load on the machine drifts over
// seconds; interleaving spreads the drift evenly over the variants, so their ratios hold even
// when absolute figures do not.
func compare(ctx context.Context, conc int, warmup, duration time.Duration, rounds int, vs []variant) ([]*result, error) {
	rounds = max(1, rounds)
	slice := duration / time.Duration(rounds)
	out := make([]*result, len(vs))
	for i, v := range vs {
		if _, err := load(ctx, conc, 0, warmup, v.label, v.op); err != nil {
			return nil, fmt.Errorf("%s: %w", v.name, err)
		}
		out[i] = &result{}
	}
	for range rounds {
		for i, v := range vs {
			r, err := load(ctx, conc, 0, slice, v.label, v.op)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", v.name, err)
			}
			out[i].ops += r.ops
			out[i].seconds += r.seconds
			out[i].latencies = append(out[i].latencies, r.latencies...)
		}
	}
	for _, r := range out {
		slices.Sort(r.latencies)
	}
	return out, nil
}
