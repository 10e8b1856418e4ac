# bulksync — see README.md. Every target works on a fresh machine with Go.
GO       ?= go
BIN      := bin/bulksync
PKGS     := ./...

.PHONY: build generate check-generated test bench soak demo lint fmt fuzz

build:
	$(GO) build -o $(BIN) ./cmd/bulksync

# Regenerate gen/ from openapi.yaml with the oapi-codegen pinned in go.mod.
generate:
	$(GO) generate ./gen/...

# Fails when gen/ is not what openapi.yaml and the configs produce.
check-generated: generate
	@git diff --exit-code --stat -- gen/ || { echo "gen/ is stale: run 'make generate' and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- gen/)" || { git status --porcelain -- gen/; echo "gen/ has untracked files: run 'make generate' and commit"; exit 1; }

# The README's test command.
test:
	$(GO) test -race -count=1 $(PKGS)

demo:
	$(GO) run ./cmd/bulksync demo

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

# Short fuzzing runs of every fuzz target (CI runs this too).
FUZZTIME ?= 10s
fuzz:
	$(GO) test ./sync -run '^$$' -fuzz '^FuzzSource$$' -fuzztime $(FUZZTIME)
	$(GO) test ./sync -run '^$$' -fuzz '^FuzzNormalizePhone$$' -fuzztime $(FUZZTIME)
	$(GO) test ./sync -run '^$$' -fuzz '^FuzzReadAnswer$$' -fuzztime $(FUZZTIME)
	$(GO) test ./sync -run '^$$' -fuzz '^FuzzPhoneFastPath$$' -fuzztime $(FUZZTIME)
	$(GO) test ./sync -run '^$$' -fuzz '^FuzzXLSXSource$$' -fuzztime $(FUZZTIME)

# 10k records against a fake injecting 10% 5xx, 5% 429 and 2% dropped
# connections, then a rerun; then 5 rounds of SIGKILL-and-rerun.
SOAK_ROWS ?= 10000
SOAK_KILLS ?= 5
soak:
	$(GO) run ./internal/soak -rows $(SOAK_ROWS) -kills $(SOAK_KILLS)

# Benchmarks as ratios against baselines of the same run; writes BENCHMARKS.md.
# BENCHFLAGS=-quick for a smoke run (writes nothing).
bench:
	$(GO) run ./internal/bench $(BENCHFLAGS)
