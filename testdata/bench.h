/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The bodies of the benchmark's test programs, shared by the program alone
 * (noop.c, udp.c), the hand-written chains (monolithic.c) and the
 * tail-call chain (tailcall.c), so that every row runs the same code:
 *
 *   noop_body  returns XDP_PASS through opaque(), so that a caller cannot
 *              fold its verdict into its own checks;
 *   udp_body   parses Ethernet, IPv4 and UDP with bounds checks and drops
 *              datagrams to UDP_BODY_PORT (4789); the benchmark packet goes
 *              to port 9, so it returns XDP_PASS.
 *
 * BODY(ctx) is udp_body with -DUDP=1, else noop_body.
 */
#ifndef XDPCHAIN_TESTDATA_BENCH_H
#define XDPCHAIN_TESTDATA_BENCH_H

#include "common.h"

/* The UDP destination port udp_body drops (VXLAN's; not the packet's). */
#define UDP_BODY_PORT 4789

static __always_inline int noop_body(struct xdp_md *ctx)
{
	int ret = XDP_PASS;

	opaque(ret);
	return ret;
}

static __always_inline int udp_body(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp;

	if ((void *)(ip + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP) || ip->protocol != IPPROTO_UDP)
		return XDP_PASS;
	udp = (void *)ip + ip->ihl * 4;
	if ((void *)(udp + 1) > data_end)
		return XDP_PASS;
	if (udp->dest == bpf_htons(UDP_BODY_PORT))
		return XDP_DROP;
	return XDP_PASS;
}

#if defined(UDP) && UDP
#define BODY(ctx) udp_body(ctx)
#else
#define BODY(ctx) noop_body(ctx)
#endif

#endif
