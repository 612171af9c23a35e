# wiretrace — see README.md.
GO      ?= go
BIN     := bin/wiretrace
PKGS    := ./...
FUZZTIME ?= 30s

.PHONY: all build demo accuracy test test-short bench bench-micro profile fuzz lint update-golden api clean

all: build

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/wiretrace

# Replay the bundled demo capture and print its traces.
demo: build
	$(BIN) replay --format tree testdata/demo.pcap

# Parent-edge accuracy against the services' own logs (root; not part of
# "make test"): nginx, two Go backends, MariaDB and Redis in network
# namespaces, 1, 8 and 32 clients (testdata/gen/accuracy.sh;
# ACCURACY_REQUESTS per run).
ACCURACY_REQUESTS ?= 300
accuracy: build
	testdata/gen/accuracy.sh -n $(ACCURACY_REQUESTS) -c "1 8 32"

# All tests with the race detector; fuzz targets run their seed corpora.
test:
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 $(PKGS)

test-short:
	$(GO) test -short -count=1 $(PKGS)

# Micro-benchmarks, then end to end on a generated capture against the
# gopacket floor, tcpdump and tshark (testdata/gen/bench.sh; BENCH_PACKETS
# scales the capture).
bench:
	testdata/gen/bench.sh

# Micro-benchmarks of the hot paths only.
bench-micro:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

# CPU and heap profiles of a replay of a generated capture, into bin/.
PROFILE_PACKETS ?= 1000000
profile:
	$(GO) build -trimpath -o bin/wiretrace ./cmd/wiretrace
	$(GO) build -trimpath -o bin/synth ./testdata/gen/synth
	test -s bin/profile.pcap || bin/synth -packets $(PROFILE_PACKETS) -o bin/profile.pcap
	bin/wiretrace replay --format jsonl -o /dev/null --cpuprofile bin/cpu.pprof --memprofile bin/heap.pprof bin/profile.pcap
	@echo "go tool pprof -top bin/wiretrace bin/cpu.pprof; go tool pprof -sample_index=alloc_space -top bin/wiretrace bin/heap.pprof"

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

# Rewrite the exported-API records in testdata/api (go doc -all of each
# public package) after an intended API change; review the diff.
api:
	$(GO) test -run '^TestAPI$$' -count=1 -update .

clean:
	rm -rf bin
