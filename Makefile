# spire-port: `make demo` runs the main job, `make test` every test.
# Both install what they need first (Debian packages) and build.

SHELL       := /bin/bash
GO          ?= go
BIN         := bin/spire-port
DEB_PKGS    := librocksdb-dev elixir erlang-dev g++
# An execution count, not a duration: Go 1.26's fuzz coordinator can report
# a bare "context deadline exceeded" at the end of a timed run
# (golang/go#75804, fixed in Go 1.27). About 10 s each on 2 vCPUs.
FUZZTIME    ?= 100000x
export CGO_ENABLED := 1

.PHONY: all setup build test demo bench fmt lint fuzz clean

all: build

# Installs the Debian packages that are missing: as root directly, else
# through sudo, else prints the exact command and fails.
setup:
	@missing=""; \
	for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	echo "setup: installing$$missing"; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; \
	elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; \
	else echo "setup: run as root: apt-get update && apt-get install -y$$missing" >&2; exit 1; fi; \
	$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq$$missing >/dev/null

build: setup
	$(GO) build -o $(BIN) ./cmd/spire-port
	cd elixir && mix compile

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change: $$out" >&2; exit 1; fi
	cd elixir && mix format --check-formatted
	cd elixir/rocksdb && mix format --check-formatted

# staticcheck comes from the Go module proxy at a pinned version.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

lint: fmt
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	CGO_ENABLED=0 $(GO) build ./engine/kv ./port/wire/... ./port/client/... ./port/pipe/...

# A short run of each fuzz target; `make fuzz FUZZTIME=10m` (or 5000000x)
# for a long one.
fuzz:
	$(GO) test ./etf -run '^$$' -fuzz FuzzDecode -fuzztime $(FUZZTIME)
	$(GO) test ./port -run '^$$' -fuzz FuzzRequest -fuzztime $(FUZZTIME)

test: build lint
	$(GO) test -count=1 ./...
	$(MAKE) --no-print-directory fuzz
	cd elixir && mix test --include slow
	cd elixir/rocksdb && mix test

demo: build
	cd elixir && mix run --no-start scripts/demo.exs

# Go benchmarks (in-process engine, the sidecar's own CPU, the binary through
# the Go client); spire-port beside erlang-rocksdb's NIF in one BEAM
# (docs/benchmarks-nif.md) when a NIF build is in NIF (default var/nif;
# `make bench NIF=DIR`); then the Elixir bench, which writes
# docs/benchmarks.md (with the side-by-side table, or why it is missing)
# and docs/benchmarks-latency.svg.
NIF ?= var/nif
bench: build
	mkdir -p var
	$(GO) test ./engine ./port ./port/client -run '^$$' -bench . -benchtime 2s | tee var/bench-go.txt
	@if [ -d "$(NIF)/rocksdb/ebin" ]; then \
	  cd elixir && ERL_LIBS=$(abspath $(NIF)) MIX_ENV=prod mix run --no-start bench/nif_ab.exs --out ../docs/benchmarks-nif.md && \
	  MIX_ENV=prod mix run --no-start bench/bench.exs --out ../docs/benchmarks.md --go ../var/bench-go.txt --nif ../docs/benchmarks-nif.md; \
	else \
	  echo "bench: no erlang-rocksdb NIF in $(NIF): the side-by-side rows are skipped (../shared/anchors/erlang-rocksdb/build.sh $(NIF) builds it)"; \
	  cd elixir && MIX_ENV=prod mix run --no-start bench/bench.exs --out ../docs/benchmarks.md --go ../var/bench-go.txt; \
	fi
	cd elixir && MIX_ENV=prod mix run --no-start bench/backup.exs --out ../docs/benchmarks-backup.md
	cd elixir && MIX_ENV=prod mix run --no-start bench/memory.exs --out ../docs/benchmarks-memory.md

clean:
	rm -rf bin var elixir/_build elixir/tmp elixir/data
