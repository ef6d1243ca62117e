/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * reflect is the far end of the benchmark's real packet path (xdpchain
 * bench --path veth): attached natively to one end of a veth pair, it
 * sends every frame back with XDP_TX, so that frames injected once keep
 * circulating between it and the program under measurement on the other
 * end. It counts the frames it reflects (reflected, per CPU); while the
 * loader sets stop[0], it drops them instead, which drains the loop.
 */
#include "common.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} reflected SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} stop SEC(".maps");

SEC("xdp")
int reflect(struct xdp_md *ctx)
{
	__u32 zero = 0;
	__u32 *s = bpf_map_lookup_elem(&stop, &zero);
	__u64 *c;

	if (s && *s)
		return XDP_DROP;
	c = bpf_map_lookup_elem(&reflected, &zero);
	if (c)
		*c += 1;
	return XDP_TX;
}
