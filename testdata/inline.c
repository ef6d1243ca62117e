/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Programs that make inline splicing (the inline mechanism) risky: calls to
 * static and global subprograms, several exits, a verdict read from a map,
 * a tail call, and a deep stack (DEPTH bytes). Each decides on the UDP
 * destination port of an IPv4 frame.
 */
#include "common.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#ifndef DEPTH
#define DEPTH 480
#endif

/* Ports the programs act on. */
#define PORT_SUBPROG 7001 /* subprogs: static subprogram says drop */
#define PORT_GLOBAL 7002  /* subprogs: global function says drop */
#define PORT_DROP 7003    /* multiexit: drop */
#define PORT_TX 7004      /* multiexit: tx */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} verdict SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} jumps SEC(".maps");

/* dport returns the UDP destination port of an IPv4 frame, or 0. */
static __noinline int dport(struct xdp_md *ctx)
{
	return udp_dport(ctx);
}

/* is_port is a global function: the verifier checks it on its own. */
__noinline int is_port(struct xdp_md *ctx, int port)
{
	if (!ctx)
		return 0;
	return dport(ctx) == port;
}

SEC("xdp")
int subprogs(struct xdp_md *ctx)
{
	if (dport(ctx) == PORT_SUBPROG)
		return XDP_DROP;
	if (is_port(ctx, PORT_GLOBAL))
		return XDP_DROP;
	return XDP_PASS;
}

/* multiexit returns from several places (clang keeps an exit for each). */
SEC("xdp")
int multiexit(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);

	if ((void *)(udp + 1) > end)
		return XDP_PASS;
	if (udp->dest == bpf_htons(PORT_DROP))
		return XDP_DROP;
	if (udp->dest == bpf_htons(PORT_TX))
		return XDP_TX;
	return XDP_PASS;
}

/* mapverdict returns what the test wrote into verdict[0]. */
SEC("xdp")
int mapverdict(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u32 *v = bpf_map_lookup_elem(&verdict, &key);

	if (!v)
		return XDP_ABORTED;
	return *v;
}

/* tailcall jumps to jumps[0]; with the slot empty it passes. */
SEC("xdp")
int tailcall(struct xdp_md *ctx)
{
	bpf_tail_call(ctx, &jumps, 0);
	return XDP_PASS;
}

/* deep fills DEPTH bytes of stack, and passes unless they sum to zero. */
SEC("xdp")
int deep(struct xdp_md *ctx)
{
	__u64 buf[DEPTH / 8];
	__u64 sum = 0;
	__u64 seed = ctx->data_end - ctx->data;

	for (int i = 0; i < DEPTH / 8; i++)
		buf[i] = seed + i;
	asm volatile("" : : "r"(buf) : "memory");
	for (int i = 0; i < DEPTH / 8; i++)
		sum += buf[i];
	return sum ? XDP_PASS : XDP_DROP;
}
