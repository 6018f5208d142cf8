# Castellan. `make run` starts a server on the in-memory store; `make test`
# runs vet and every test (starting a throw-away PostgreSQL when
# CASTELLAN_TEST_DATABASE_URL is not set).
GO      ?= go
BIN     := bin/castellan
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
GOTEST_FLAGS ?= -count=1 -timeout 12m

.PHONY: all build run test vet fuzz bench clean

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
	./scripts/with-postgres $(GO) test $(GOTEST_FLAGS) ./...
	CASTELLAN_BIN=$(BIN) GO=$(GO) ./examples/microservices/run.sh
	CASTELLAN_BIN=$(BIN) GO=$(GO) ./examples/zero-trust/run.sh
	CASTELLAN_BIN=$(BIN) GO=$(GO) ./examples/authzen-todo/run.sh
	CASTELLAN_BIN=$(BIN) GO=$(GO) ./examples/authzen-search/run.sh
	GO=$(GO) ./scripts/fuzz 3s

# Every fuzz target for FUZZTIME each; `make test` runs each for 3s.
FUZZTIME ?= 60s
fuzz:
	GO=$(GO) ./scripts/fuzz $(FUZZTIME)

bench:
	./scripts/with-postgres $(GO) test -run='^$$' -bench=. -benchmem ./...

clean:
	rm -rf bin
