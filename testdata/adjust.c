/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * adjust calls the packet-pointer invalidating helpers bpf_xdp_adjust_head
 * and bpf_xdp_adjust_tail, leaves the packet as it was, and passes it.
 * It returns XDP_ABORTED if a helper fails.
 */
#include "common.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int adjust(struct xdp_md *ctx)
{
	void *data, *data_end;

	if (bpf_xdp_adjust_head(ctx, -4))
		return XDP_ABORTED;
	/* Pointers must be reloaded after the helper. */
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (data + 4 > data_end)
		return XDP_ABORTED;
	__builtin_memset(data, 0, 4);
	if (bpf_xdp_adjust_head(ctx, 4))
		return XDP_ABORTED;
	if (bpf_xdp_adjust_tail(ctx, 0))
		return XDP_ABORTED;
	return XDP_PASS;
}
