# Castellan. `make run` starts a server on the in-memory store; `make test`
# runs vet and every test (starting a throw-away PostgreSQL when
# CASTELLAN_TEST_DATABASE_URL is not set, and finding or, as root,
# installing Chromium for the console's browser test).
GO      ?= go
BIN     := bin/castellan
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
GOTEST_FLAGS ?= -count=1 -timeout 12m

.PHONY: all build run test test-ha vet fuzz bench clean screenshots

all: build

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/castellan

run: build
	./$(BIN) serve

vet:
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi

test: vet build
	./scripts/with-chromium ./scripts/with-postgres $(GO) test $(GOTEST_FLAGS) ./...
	CASTELLAN_BIN=$(BIN) GO=$(GO) ./examples/microservices/run.sh
	CASTELLAN_BIN=$(BIN) GO=$(GO) ./examples/zero-trust/run.sh
	CASTELLAN_BIN=$(BIN) GO=$(GO) ./examples/authzen-todo/run.sh
	CASTELLAN_BIN=$(BIN) GO=$(GO) ./examples/authzen-search/run.sh
	CASTELLAN_BIN=$(BIN) GO=$(GO) ./examples/gitclub-jobs/run.sh
	CASTELLAN_BIN=$(BIN) GO=$(GO) ./examples/derived-roles/run.sh
	GO=$(GO) ./scripts/fuzz 3s
	$(MAKE) test-ha

# The failover test (about 1.5 minutes): Patroni + etcd + HAProxy and three
# replicas on loopback (scripts/ha-cluster), the primary PostgreSQL and a
# replica killed under load; fails on a lost write or a wrong answer.
test-ha: build
	$(GO) run ./cmd/castellan-load failover -castellan $(BIN)

# Every fuzz target for FUZZTIME each; `make test` runs each for 3s.
FUZZTIME ?= 60s
fuzz:
	GO=$(GO) ./scripts/fuzz $(FUZZTIME)

# The console's screenshots (README, docs/console.md), taken by its browser
# test: into SCREENSHOTS (default docs/img).
SCREENSHOTS ?= $(CURDIR)/docs/img
screenshots:
	CASTELLAN_SCREENSHOTS=$(SCREENSHOTS) ./scripts/with-chromium $(GO) test -count=1 -run '^TestConsoleBrowser$$' ./server/

bench:
	./scripts/with-postgres $(GO) test -run='^$$' -bench=. -benchmem ./...

clean:
	rm -rf bin
