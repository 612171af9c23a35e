package ebpf

// The BPF programs in bpf/ compiled by bpf2go (clang from Debian's clang
// package, headers from libbpf-dev); the .o and .go files it writes are
// committed, so building wiretrace needs neither. "make bpf" runs this.
//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -go-package ebpf -tags linux,!noebpf -target bpfel,bpfeb -cc clang -cflags "-O2 -g -Wall -Werror" wtbpf bpf/wiretrace.c -- -I/usr/include
