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

/*
 * Global, so that the verifier checks it on its own and, like the compiler,
 * knows nothing of what it returns: a caller that saw its fallback return
 * (XDP_ABORTED, after an empty array) as its only result would take every
 * verdict for XDP_ABORTED and drop the rest of the chain as dead code (the
 * verifiers of Debian's 6.1 and 6.12 do, for a static function; C knows
 * nothing of a tail call replacing the frame either). A successful tail
 * call returns the adopted program's verdict.
 */
__attribute__((noinline)) int call_target(struct xdp_md *ctx)
{
	int ret = XDP_ABORTED;

	bpf_tail_call(ctx, &xdpchain_target, 0);
	/* Reached only when the array is empty: the program is gone. The
	 * empty asm hides the constant from the compiler (which propagates
	 * return values even of global functions). */
	asm volatile("" : "+r"(ret));
	return ret;
}

SEC("xdp")
int xdpchain_call(struct xdp_md *ctx)
{
	return call_target(ctx);
}
