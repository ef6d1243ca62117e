/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * dropport drops UDP datagrams (IPv4 and IPv6) to one destination port,
 * held in .rodata (default 9999), and passes everything else. It carries
 * libxdp metadata: priority 10, proceed on XDP_PASS.
 */
#include "common.h"
#include <xdp/xdp_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Global, not static, so that loaders can see and set it. */
volatile const __u16 port = 9999;

struct {
	__uint(priority, 10);
	__uint(XDP_PASS, 1);
} XDP_RUN_CONFIG(dropport);

SEC("xdp")
int dropport(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct udphdr *udp;
	__u8 proto;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;

	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > data_end || ip->ihl < 5)
			return XDP_PASS;
		proto = ip->protocol;
		udp = (void *)ip + ip->ihl * 4;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > data_end)
			return XDP_PASS;
		proto = ip6->nexthdr;
		udp = (void *)(ip6 + 1);
	} else {
		return XDP_PASS;
	}

	if (proto != IPPROTO_UDP || (void *)(udp + 1) > data_end)
		return XDP_PASS;
	if (udp->dest == bpf_htons(port))
		return XDP_DROP;
	return XDP_PASS;
}
