/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * costly passes every packet after ROUNDS rounds of arithmetic on its first
 * byte (a bounded loop, not unrolled): far more work than noop per packet,
 * so that profile's test tells them apart even where reading the clock
 * costs microseconds (the VMs' emulated CPUs).
 */
#include "common.h"

#ifndef ROUNDS
#define ROUNDS 10000
#endif

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Where the result goes, so that the loop is not optimized away. */
__u32 sink;

SEC("xdp")
int costly(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 x = 1;

	if (data + 1 <= end)
		x += *(__u8 *)data;
#pragma clang loop unroll(disable)
	for (int i = 0; i < ROUNDS; i++)
		x = x * 1103515245 + 12345;
	sink = x;
	return XDP_PASS;
}
