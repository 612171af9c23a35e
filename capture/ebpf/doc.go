// Package ebpf tells which process and thread sent or received each byte of
// the local TCP connections a capture sees: the optional eBPF extension of
// a live capture.
//
// A Tracer loads BPF programs on the syscall tracepoints of read, write,
// readv, writev, recvfrom, sendto, recvmsg, sendmsg and sendfile (and
// sock:inet_sock_set_state for the end of a connection). Each call that
// moves bytes on a TCP socket becomes an Event: the tgid (PID), thread id
// (TID) and comm of the task, the connection's local and remote address,
// and the TCP sequence range of the bytes, read from the socket's
// write_seq or copied_seq. An Index keeps the latest ranges of each
// connection, so that a message seen in packets, named by its connection
// and the sequence number of its first byte, finds the task that wrote or
// read it (Tracer.Lookup). The container id comes from /proc/PID/cgroup.
//
// Requirements, checked by Probe at run time: Linux 4.14 or newer, root
// (or CAP_BPF and CAP_PERFMON), the syscall tracepoints, and BTF for the
// CO-RE field accesses (/sys/kernel/btf/vmlinux, or Config.BTFPath on
// kernels built without it). No kprobes. tracefs is mounted on
// /sys/kernel/tracing when neither it nor debugfs's tracing is. On other
// systems, and when built with the noebpf tag, Open and Probe return an
// error that wraps ErrNotSupported, and the rest of wiretrace works the
// same without process attribution.
//
// This package is the only one that imports github.com/cilium/ebpf. The
// event decoding, the Index and the cgroup parsing are plain Go that
// builds and tests everywhere.
//
// Not seen: bytes moved by splice, sendmmsg and recvmmsg (their results
// count messages, not bytes), io_uring or kernel TLS.
//
// A Tracer is safe for concurrent use; an Index is not.
package ebpf
