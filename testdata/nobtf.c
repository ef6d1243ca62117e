/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * nobtf is built without -g, as iproute2's examples are: the object has no
 * BTF. nobtf passes every packet (one function); nobtf_subprog does the same
 * through a static __noinline subprogram, which xdpchain cannot load
 * without BTF.
 */
#include "common.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __attribute__((noinline)) int pass_verdict(struct xdp_md *ctx)
{
	int v = XDP_PASS;

	opaque(v);
	return v;
}

SEC("xdp")
int nobtf(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp")
int nobtf_subprog(struct xdp_md *ctx)
{
	return pass_verdict(ctx);
}
