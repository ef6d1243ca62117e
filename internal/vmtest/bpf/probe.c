/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Programs for the VM harness's own probes and smoke tests.
 *
 * probe_target is a tiny XDP program whose verdict comes from a global,
 * non-inlined function, probe_slot, that an freplace (BPF_PROG_TYPE_EXT)
 * program can replace: probe_ext returns XDP_DROP instead of XDP_PASS.
 * Loading and attaching probe_ext needs a BPF trampoline, which is what
 * vmtest.ProbeFreplace checks.
 *
 * probe_count counts frames with the local experimental EtherType
 * PROBE_ETH_P on the interface it is attached to; the smoke test sends
 * such frames over a veth pair.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define PROBE_ETH_P 0x88b5

__attribute__((noinline)) int probe_slot(struct xdp_md *ctx)
{
	volatile int ret = XDP_PASS;
	if (!ctx)
		return XDP_ABORTED;
	/* Lets a replacement invalidate packet pointers on newer verifiers. */
	bpf_xdp_adjust_tail(ctx, 0);
	return ret;
}

SEC("xdp")
int probe_target(struct xdp_md *ctx)
{
	return probe_slot(ctx);
}

SEC("freplace/probe_slot")
int probe_ext(struct xdp_md *ctx)
{
	return XDP_DROP;
}

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} probe_frames SEC(".maps");

SEC("xdp")
int probe_count(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u32 key = 0;
	__u64 *n;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(PROBE_ETH_P))
		return XDP_PASS;
	n = bpf_map_lookup_elem(&probe_frames, &key);
	if (n)
		__sync_fetch_and_add(n, 1);
	return XDP_DROP;
}
