/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Shared includes for xdpchain's BPF test programs. */
#ifndef XDPCHAIN_TESTDATA_COMMON_H
#define XDPCHAIN_TESTDATA_COMMON_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/*
 * opaque hides a value from the compiler without emitting an instruction,
 * so that a constant verdict is not folded into its caller's checks.
 */
#define opaque(x) asm volatile("" : "+r"(x))

/* udp_dport returns the UDP destination port of an IPv4 frame without IP
 * options, or 0. */
static __always_inline int udp_dport(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);

	if ((void *)(udp + 1) > end)
		return 0;
	if (eth->h_proto != bpf_htons(ETH_P_IP) || ip->protocol != IPPROTO_UDP || ip->ihl != 5)
		return 0;
	return bpf_ntohs(udp->dest);
}

#endif
