# Nubiq Hub. `make run` serves a demo workspace on http://127.0.0.1:8080; `make test` runs the
# suite on a real PostgreSQL + pgvector. Both install what they need first.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
export GOTOOLCHAIN ?= auto

ADDR ?= 127.0.0.1:8080

.PHONY: run test build setup vet fmt fuzz bench load reliability

setup:
	@scripts/setup-go
	@scripts/setup-postgres

build: setup
	@go build -o bin/nubiq ./cmd/nubiq

run: build
	@scripts/run $(ADDR)

test:
	@scripts/test

vet:
	@go vet ./...

fmt:
	@gofmt -l -w .

# Explore every fuzz test beyond its seed corpus: FUZZTIME per target (default 1m).
fuzz:
	@scripts/fuzz

# Benchmarks against the raw engines in one run: prints a table and writes bench-results.json
# (figures and how long they take: BENCHMARKS.md). BENCHFLAGS passes flags, e.g.
# BENCHFLAGS=--quick for a run of a few minutes, or BENCHFLAGS="--only tools".
bench: build
	@bin/nubiq bench $(BENCHFLAGS)

# Bounded load runs on loopback (docs/RELIABILITY.md): the rate limit at twice a Pro
# workspace's minute limit over 10 windows, then a mixed read/write/search load for
# NUBIQ_LOAD_DURATION (default 2m) with NUBIQ_LOAD_CLIENTS (default 16) closed-loop clients;
# prints throughput, p50/p95/p99 and errors per operation.
load: setup
	@NUBIQ_LOAD=1 go test ./reliability -run '^TestLoad' -count=1 -v -timeout 20m

# The reliability suite with its slow variants (a real PostgreSQL restart under load).
reliability: setup
	@NUBIQ_SLOW_TESTS=1 go test ./reliability -count=1 -v -timeout 20m
