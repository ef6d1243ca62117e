/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * leak writes a kernel address (a map value pointer) into the packet: the
 * verifier allows it only to callers with CAP_PERFMON. Programs of
 * unprivileged owners must be refused.
 */
#include "common.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} cell SEC(".maps");

SEC("xdp")
int leak(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 key = 0;
	__u64 *v;

	if (data + 8 > end)
		return XDP_PASS;
	v = bpf_map_lookup_elem(&cell, &key);
	if (!v)
		return XDP_PASS;
	*(__u64 *)data = (__u64)(long)v;
	return XDP_PASS;
}
