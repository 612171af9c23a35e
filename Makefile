# wiretrace — see README.md.
GO      ?= go
BIN     := bin/wiretrace
PKGS    := ./...
FUZZTIME ?= 30s

.PHONY: all build demo accuracy test test-short bench bench-micro profile fuzz lint update-golden api bpf clean dist package nfpm

all: build

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/wiretrace

# Replay the bundled demo capture and print its traces.
demo: build
	$(BIN) replay --format tree testdata/demo.pcap

# Parent-edge accuracy against the services' own logs (root; not part of
# "make test"): nginx, two Go backends, MariaDB and Redis in network
# namespaces, 1, 8 and 32 clients (testdata/gen/accuracy.sh;
# ACCURACY_REQUESTS per run); then one hop through a NATS broker
# (testdata/gen/accuracy_nats.sh).
ACCURACY_REQUESTS ?= 300
accuracy: build
	testdata/gen/accuracy.sh -n $(ACCURACY_REQUESTS) -c "1 8 32"
	testdata/gen/accuracy_nats.sh -n $(ACCURACY_REQUESTS) -c "1 8 32"

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

# Regenerate the committed BPF objects and their Go bindings in
# capture/ebpf (bpf2go; needs clang, llvm and libbpf-dev from Debian).
bpf:
	cd capture/ebpf && $(GO) generate ./

# Release builds. VERSION defaults to git describe; DATE to the commit's
# time, so that a rebuild of a commit gives the same bytes (SHA256SUMS).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
DATE    ?= $(shell TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ 2>/dev/null || TZ=UTC date +%Y-%m-%dT%H:%M:%SZ)
DIST    ?= dist
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)
# GOOS/GOARCH[/GOARM] of the static binaries, written to dist/linux-ARCH/.
DIST_TARGETS := amd64 arm64 arm/7 386
# Package version: VERSION without its "v", "-" as "+" (1.2.0+3+gabc123),
# and a commit without a tag as 0.0.0+git<hash>: deb and rpm versions start
# with a digit and rpm's have no "-".
PKG_VERSION := $(shell echo '$(VERSION)' | sed -E -e '/^v?[0-9]+[.]/!s/^/0.0.0+git/' -e 's/^v//' -e 's/-/+/g')
PKG_ARCHES  := amd64 arm64

# Static binaries for Linux amd64, arm64, armv7 and 386, the man pages and
# dist/SHA256SUMS.
dist:
	@rm -rf $(DIST) && mkdir -p $(DIST)
	@set -e; for t in $(DIST_TARGETS); do \
	  arch=$${t%/*}; arm=; dir=linux-$$arch; \
	  case $$t in */*) arm=$${t#*/}; dir=linux-armv$$arm ;; esac; \
	  echo "== $$dir"; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch GOARM=$$arm $(GO) build -trimpath -buildvcs=false \
	    -ldflags "$(LDFLAGS)" -o $(DIST)/$$dir/wiretrace ./cmd/wiretrace; \
	done
	@mkdir -p $(DIST)/man
	CGO_ENABLED=0 $(GO) run -trimpath ./cmd/wiretrace man $(DIST)/man
	gzip -9n -f $(DIST)/man/*.1
	cd $(DIST) && sha256sum linux-*/wiretrace > SHA256SUMS
	@cat $(DIST)/SHA256SUMS

# nfpm (tools/nfpm, its own module) into bin/nfpm.
nfpm:
	tools/nfpm/build.sh

# .deb and .rpm packages for amd64 and arm64 into dist/ (after make dist).
package: dist nfpm
	@set -e; for a in $(PKG_ARCHES); do for p in deb rpm; do \
	  WT_ARCH=$$a WT_VERSION=$(PKG_VERSION) WT_DIST=$(DIST) bin/nfpm package -f packaging/nfpm.yaml -p $$p -t $(DIST)/; \
	done; done
	cd $(DIST) && sha256sum linux-*/wiretrace *.deb *.rpm > SHA256SUMS
	@ls -l $(DIST)/*.deb $(DIST)/*.rpm

clean:
	rm -rf bin dist
