// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * wiretrace's eBPF programs: which task sent or received which bytes of
 * which TCP connection.
 *
 * Only syscall tracepoints (present since 4.7; these since 4.14 at the
 * latest) and sock:inet_sock_set_state (4.16) are used, no kprobes, and
 * only helpers of 4.14 (bpf_probe_read_kernel is rewritten to
 * bpf_probe_read by the loader on kernels older than 5.5). At each
 * sys_enter of read, write, readv, writev, recvfrom, sendto, recvmsg,
 * sendmsg and sendfile the fd is resolved to its socket through the current task's
 * file table (CO-RE field accesses relocated against the kernel's BTF);
 * only TCP sockets are kept. At sys_exit the socket's write_seq (after a
 * send) or copied_seq (after a receive) less the byte count is the TCP
 * sequence number of the first byte moved, so an event names exactly the
 * bytes a packet capture sees, with the tgid, tid and comm of the task.
 */
#include "types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1
#define IPPROTO_TCP 6
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define TCP_CLOSE 7

#define KIND_SEND 1
#define KIND_RECV 2
#define KIND_CLOSE 3

/* event is what user space reads; keep in step with event.go. */
struct event {
	__u64 ts;	  /* bpf_ktime_get_ns */
	__u32 pid;	  /* tgid */
	__u32 tid;	  /* pid, in the kernel's words */
	__u32 seq;	  /* sequence number of the first byte */
	__u32 len;	  /* bytes moved */
	__u32 netns;	  /* inode of the socket's network namespace */
	__u16 family;	  /* AF_INET or AF_INET6 */
	__u8 kind;	  /* KIND_* */
	__u8 pad;
	__u8 saddr[16];	  /* local address (IPv4 in the first 4 bytes) */
	__u8 daddr[16];	  /* remote address */
	__u16 sport;	  /* local port, host order */
	__u16 dport;	  /* remote port, host order */
	char comm[16];
};

/* call is what sys_enter leaves for sys_exit, per thread. */
struct call {
	__u64 sk; /* struct sock * */
	__u32 kind;
	__u32 netns;
	__u16 family;
	__u16 pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct call);
} calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct event);
} scratch SEC(".maps");

/* config[0] is the network namespace inode to trace, 0 for all. An array
 * rather than a global variable: global data needs 5.2. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} config SEC(".maps");

/* The layouts of the tracepoints' records (format files under
 * /sys/kernel/tracing/events), stable since they were added. */
struct sys_enter_args {
	__u64 common;
	long nr;
	unsigned long args[6];
};

struct sys_exit_args {
	__u64 common;
	long nr;
	long ret;
};

struct inet_sock_set_state_args {
	__u64 common;
	const void *skaddr;
	int oldstate;
	int newstate;
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u16 protocol;
	__u8 saddr[4];
	__u8 daddr[4];
	__u8 saddr_v6[16];
	__u8 daddr_v6[16];
};

static __always_inline int netns_ok(struct sock *sk, __u32 *inum)
{
	__u32 zero = 0;
	__u32 *want = bpf_map_lookup_elem(&config, &zero);
	*inum = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	return !want || *want == 0 || *want == *inum;
}

/* tcp_sock_of returns the TCP socket behind fd of the current task, or 0,
 * and its address family. */
static __always_inline struct sock *tcp_sock_of(unsigned long fd, __u16 *family)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt)
		return 0;
	unsigned int max = BPF_CORE_READ(fdt, max_fds);
	if (fd >= max)
		return 0;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = 0;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return 0;
	umode_t mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return 0;
	struct socket *sock = BPF_CORE_READ(f, private_data);
	if (!sock || BPF_CORE_READ(sock, type) != SOCK_STREAM)
		return 0;
	struct sock *sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return 0;
	*family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (*family != AF_INET && *family != AF_INET6)
		return 0;
	if (BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	return sk;
}

static __always_inline int enter(struct sys_enter_args *ctx, __u32 kind)
{
	__u16 family = 0;
	struct sock *sk = tcp_sock_of(ctx->args[0], &family);
	if (!sk)
		return 0;
	__u32 inum;
	if (!netns_ok(sk, &inum))
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	struct call c = {.sk = (__u64)sk, .kind = kind, .netns = inum, .family = family};
	bpf_map_update_elem(&calls, &id, &c, BPF_ANY);
	return 0;
}

/* fill_addrs reads the socket's ends in two reads for IPv4: skc_portpair
 * is skc_dport (network order) then skc_num (host order), skc_addrpair is
 * skc_daddr then skc_rcv_saddr, in memory order on every architecture. */
static __always_inline void fill_addrs(struct event *e, struct sock *sk, __u16 family)
{
	e->family = family;
	__u32 ports = BPF_CORE_READ(sk, __sk_common.skc_portpair);
	__u16 dport = 0, num = 0;
	__builtin_memcpy(&dport, (__u8 *)&ports, 2);
	__builtin_memcpy(&num, (__u8 *)&ports + 2, 2);
	e->sport = num;
	e->dport = (__u16)(((__u8 *)&dport)[0] << 8 | ((__u8 *)&dport)[1]);
	if (family == AF_INET) {
		__builtin_memset(e->saddr, 0, 16);
		__builtin_memset(e->daddr, 0, 16);
		__u64 addrs = BPF_CORE_READ(sk, __sk_common.skc_addrpair);
		__builtin_memcpy(e->daddr, (__u8 *)&addrs, 4);
		__builtin_memcpy(e->saddr, (__u8 *)&addrs + 4, 4);
	} else {
		BPF_CORE_READ_INTO(&e->saddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&e->daddr, sk, __sk_common.skc_v6_daddr);
	}
}

static __always_inline int leave(struct sys_exit_args *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct call *c = bpf_map_lookup_elem(&calls, &id);
	if (!c)
		return 0;
	struct sock *sk = (struct sock *)c->sk;
	__u32 kind = c->kind, netns = c->netns;
	__u16 family = c->family;
	bpf_map_delete_elem(&calls, &id);
	long ret = ctx->ret;
	if (ret <= 0)
		return 0;
	__u32 zero = 0;
	struct event *e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		return 0;
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	__u32 end = kind == KIND_SEND ? BPF_CORE_READ(tp, write_seq) : BPF_CORE_READ(tp, copied_seq);
	e->ts = bpf_ktime_get_ns();
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->len = (__u32)ret;
	e->seq = end - (__u32)ret;
	e->kind = kind;
	e->pad = 0;
	e->netns = netns;
	fill_addrs(e, sk, family);
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, e, sizeof(*e));
	return 0;
}

#define SYSCALL(name, kind)                                              \
	SEC("tracepoint/syscalls/sys_enter_" #name)                      \
	int enter_##name(struct sys_enter_args *ctx) { return enter(ctx, kind); } \
	SEC("tracepoint/syscalls/sys_exit_" #name)                       \
	int exit_##name(struct sys_exit_args *ctx) { return leave(ctx); }

SYSCALL(write, KIND_SEND)
SYSCALL(writev, KIND_SEND)
SYSCALL(sendto, KIND_SEND)
SYSCALL(sendmsg, KIND_SEND)
SYSCALL(read, KIND_RECV)
SYSCALL(readv, KIND_RECV)
SYSCALL(recvfrom, KIND_RECV)
SYSCALL(recvmsg, KIND_RECV)
/* sendfile(out_fd, ...): the socket is the first argument too. */
SYSCALL(sendfile64, KIND_SEND)

/* A connection that closes: user space forgets it after a while. */
SEC("tracepoint/sock/inet_sock_set_state")
int sock_state(struct inet_sock_set_state_args *ctx)
{
	if (ctx->newstate != TCP_CLOSE || ctx->protocol != IPPROTO_TCP)
		return 0;
	struct sock *sk = (struct sock *)ctx->skaddr;
	__u32 inum;
	if (!netns_ok(sk, &inum))
		return 0;
	__u32 zero = 0;
	struct event *e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	e->ts = bpf_ktime_get_ns();
	e->kind = KIND_CLOSE;
	e->netns = inum;
	e->family = ctx->family;
	e->sport = ctx->sport;
	e->dport = ctx->dport;
	if (ctx->family == AF_INET) {
		__builtin_memcpy(e->saddr, ctx->saddr, 4);
		__builtin_memcpy(e->daddr, ctx->daddr, 4);
	} else {
		__builtin_memcpy(e->saddr, ctx->saddr_v6, 16);
		__builtin_memcpy(e->daddr, ctx->daddr_v6, 16);
	}
	bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, e, sizeof(*e));
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
