/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* noop passes every packet: the "plain program" baseline and chain filler. */
#include "common.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int noop(struct xdp_md *ctx)
{
	return XDP_PASS;
}
