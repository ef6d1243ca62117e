/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* multi holds two XDP programs: first passes, second drops. */
#include "common.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int first(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp")
int second(struct xdp_md *ctx)
{
	return XDP_DROP;
}
