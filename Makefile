# wiretrace — see README.md.
GO      ?= go
BIN     := bin/wiretrace
PKGS    := ./...
FUZZTIME ?= 30s

.PHONY: all build demo test test-short bench fuzz lint update-golden clean

all: build

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/wiretrace

# Replay the bundled demo capture and print its traces.
demo: build
	$(BIN) replay --format tree testdata/demo.pcap

# All tests with the race detector; fuzz targets run their seed corpora.
test:
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 $(PKGS)

test-short:
	$(GO) test -short -count=1 $(PKGS)

# Micro-benchmarks of the hot paths.
bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

# Run every fuzz target for FUZZTIME each.
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

lint:
	@test -z "$$(gofmt -l .)" || (gofmt -l .; exit 1)
	$(GO) vet $(PKGS)
	GOOS=darwin $(GO) build $(PKGS)
	$(GO) build -tags noebpf $(PKGS)

# Rewrite golden files from the current output; review the diff.
update-golden:
	$(GO) test ./cmd/wiretrace/ -run Golden -update

clean:
	rm -rf bin
