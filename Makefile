# bulksync — see README.md. Every target works on a fresh machine with Go.
GO       ?= go
BIN      := bin/bulksync
PKGS     := ./...

.PHONY: build generate check-generated test bench soak demo lint fmt fuzz sdk-test release release-check image image-test docs-check

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
	$(GO) test ./sync -run '^$$' -fuzz '^FuzzListsReadAsEncodingJSON$$' -fuzztime $(FUZZTIME)

# The official TypeScript SDK (@linqapp/sdk, pinned by testdata/sdk/
# package-lock.json) against `bulksync fake-api`: list, retrieve, create,
# 409/2014, update, 404, 403, phone numbers, 401. Needs Node 20+ and npm; npm ci takes
# the locked version from the npm cache when it is there.
sdk-test:
	@command -v node >/dev/null && command -v npm >/dev/null || { echo "make sdk-test needs Node 20+ and npm (Debian: apt-get install nodejs npm)"; exit 1; }
	cd testdata/sdk && npm ci --prefer-offline --no-audit --no-fund --loglevel=error && node --test

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

# Release builds: static (CGO_ENABLED=0), -trimpath, stamped with the
# version and revision. Override: make release VERSION=v1.2.0. Without git
# (a source tarball) they are "devel"/"unknown" and the archive times 1980.
VERSION           ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
REVISION          ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 315532800)
PLATFORMS         ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64
RELEASE           := $(GO) run ./internal/release -version $(VERSION) -revision $(REVISION) -mtime $(SOURCE_DATE_EPOCH)

# dist/: one archive per platform and SHA256SUMS, then verified (checksums,
# go version -m of each binary, the host's --version).
release:
	$(RELEASE) -platforms "$(PLATFORMS)" -out dist

# Two release runs must give identical archives.
release-check: release
	$(RELEASE) -platforms "$(PLATFORMS)" -out build/release-again
	cmp dist/SHA256SUMS build/release-again/SHA256SUMS
	@echo "release-check: two runs gave identical SHA256SUMS"

# The container image, FROM scratch: the static linux binary, the build
# host's CA bundle, a /tmp of mode 1777 and /state for the state database,
# user 65532. Built offline with podman: nothing is pulled.
IMAGE      ?= localhost/bulksync:$(VERSION)
IMAGE_ARCH ?= $(shell $(GO) env GOARCH)
CA_BUNDLE  ?= /etc/ssl/certs/ca-certificates.crt
IMAGE_CTX  := build/image
image:
	@command -v podman >/dev/null || { echo "make image needs podman (Debian: apt-get install podman)"; exit 1; }
	@test -r $(CA_BUNDLE) || { echo "make image needs a CA bundle at $(CA_BUNDLE) (Debian: ca-certificates)"; exit 1; }
	rm -rf $(IMAGE_CTX)
	mkdir -p $(IMAGE_CTX)/rootfs/etc/ssl/certs $(IMAGE_CTX)/rootfs/tmp $(IMAGE_CTX)/state/state
	chmod 1777 $(IMAGE_CTX)/rootfs/tmp
	chmod 0700 $(IMAGE_CTX)/state/state
	cp $(CA_BUNDLE) $(IMAGE_CTX)/rootfs/etc/ssl/certs/ca-certificates.crt
	$(RELEASE) -platforms linux/$(IMAGE_ARCH) -binary $(IMAGE_CTX)/rootfs/bulksync
	podman build --pull=never --timestamp $(SOURCE_DATE_EPOCH) -f Containerfile -t $(IMAGE) $(IMAGE_CTX)

# podman run is not available everywhere (sandboxes refuse crun), so the
# image is tested by exporting its filesystem and running it with chroot
# as user 65532: --version, then the demo writing to /tmp.
image-test: image
	sh internal/release/image-test.sh $(IMAGE) $(VERSION)

# The systemd units in docs/operations.md pass systemd-analyze verify and
# security --offline, with the exposure score the docs state.
docs-check: build
	sh docs/check-units.sh $(BIN)
