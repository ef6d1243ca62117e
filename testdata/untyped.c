/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Programs in sections that do not name their type, as older samples and
 * iproute2 examples have them (SEC("redirect_to_111"), SEC("x"),
 * SEC("xdp_foo")): libbpf and cilium/ebpf leave their type unspecified;
 * iproute2 and libxdp load them as XDP. Built twice: with ONLY, the object
 * holds redirect_to_111 alone; without, also xdp_foo, x and a classifier.
 *
 *   xdp_redirect_to_111  SEC("redirect_to_111"): drops UDP to 7201
 *   foo                  SEC("xdp_foo"): drops UDP to 7202
 *   xdp_x                SEC("x"): passes
 *   classifier           SEC("tc"): typed, not XDP
 */
#include "common.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("redirect_to_111")
int xdp_redirect_to_111(struct xdp_md *ctx)
{
	return udp_dport(ctx) == 7201 ? XDP_DROP : XDP_PASS;
}

#ifndef ONLY
SEC("xdp_foo")
int foo(struct xdp_md *ctx)
{
	return udp_dport(ctx) == 7202 ? XDP_DROP : XDP_PASS;
}

SEC("x")
int xdp_x(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("tc")
int classifier(struct __sk_buff *skb)
{
	return 0;
}
#endif
