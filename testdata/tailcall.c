/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * tailcall is one link of an L3AF/Katran-style tail-call chain: the
 * benchmark loads this object N times, each copy its own XDP program, and
 * puts copy i at index i of chain_map. A copy of tailcall runs the body
 * (noop, or udp with -DUDP=1; see bench.h) and, when the verdict is
 * XDP_PASS (the proceed verdict), tail-calls chain_map[next_key], with
 * next_key set per copy in .rodata; any other verdict is returned. The
 * chain's last program is tailcall_last: the body, then XDP_PASS.
 *
 * next_key is a frozen .rodata constant, so the verifier sees a constant
 * key and the x86 JIT patches the tail call into a direct jump. A tail call
 * that fails (an empty index, or the kernel's limit of 33 tail calls per
 * packet) falls through to XDP_ABORTED, so a chain that did not run to its
 * end cannot pass for one that did.
 */
#include "bench.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} chain_map SEC(".maps");

/* Global, not static, so that the loader can set it per copy. */
volatile const __u32 next_key = 1;

SEC("xdp")
int tailcall(struct xdp_md *ctx)
{
	int ret = BODY(ctx);

	if (ret != XDP_PASS)
		return ret;
	bpf_tail_call(ctx, &chain_map, next_key);
	return XDP_ABORTED;
}

SEC("xdp")
int tailcall_last(struct xdp_md *ctx)
{
	return BODY(ctx);
}
