/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * counter counts every packet it sees and passes it. The count is kept in
 * a .bss global (packets), incremented by a .data global (step, 1), and in
 * element 0 of the array map hits, by a static non-inlined subprogram.
 */
#include "common.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

__u64 packets;    /* .bss */
__u64 step = 1;   /* .data */

static __noinline int count(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 *hit;

	/* Never true; uses ctx in a way unprivileged verification accepts
	 * (comparing the ctx pointer itself it refuses). */
	if (ctx->data_end < ctx->data)
		return XDP_ABORTED;
	__sync_fetch_and_add(&packets, step);
	hit = bpf_map_lookup_elem(&hits, &key);
	if (!hit)
		return XDP_ABORTED;
	__sync_fetch_and_add(hit, 1);
	return XDP_PASS;
}

SEC("xdp")
int counter(struct xdp_md *ctx)
{
	return count(ctx);
}
