/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * complex is too complex for the verifier: BRANCHES conditional jumps in a
 * row on values it cannot know (a packet byte, scrambled), so that exploring one path leaves more
 * than 8192 branches pending ("The sequence of 8193 jumps is too
 * complex"), after a few tens of thousands of instructions.
 */
#include "common.h"

#ifndef BRANCHES
#define BRANCHES 9000
#endif

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int complex(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 x, sum = 0;

	if (data + 1 > end)
		return XDP_PASS;
	x = *(__u8 *)data;
#pragma clang loop unroll(full)
	for (int i = 0; i < BRANCHES; i++) {
		x = x * 1103515245 + 12345;
		if (x & 0x10000) {
			sum += i;
			opaque(sum); /* a branch, not arithmetic */
		}
	}
	return sum & 1 ? XDP_PASS : XDP_DROP;
}
