/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * xdpchain's slot for a program it has no object of: one that was already
 * loaded in the kernel (`xdpchain adopt` takes over a program attached by
 * netlink). The program sits alone in xdpchain_target, a one-entry
 * PROG_ARRAY, and call_target tail-calls it. The tail call runs in a
 * subprogram's frame, so it replaces that frame only: the adopted program's
 * verdict returns to the chain, which counts it and applies proceed-on, on
 * every mechanism (inlining copies xdpchain_call's body, never
 * call_target's).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} xdpchain_target SEC(".maps");

static __attribute__((noinline)) int call_target(struct xdp_md *ctx)
{
	int ret = XDP_ABORTED;

	bpf_tail_call(ctx, &xdpchain_target, 0);
	/* Reached only when the array is empty: the program is gone. The
	 * empty asm hides the constant from the compiler, which would
	 * otherwise have xdpchain_call return it without looking at what
	 * call_target returned (C knows nothing of a tail call replacing
	 * the frame: a successful one returns the adopted program's
	 * verdict). */
	asm volatile("" : "+r"(ret));
	return ret;
}

SEC("xdp")
int xdpchain_call(struct xdp_md *ctx)
{
	return call_target(ctx);
}
