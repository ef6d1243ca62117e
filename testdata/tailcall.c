/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * tailcall is the fastest tail-call chain one can build (Katran-style), in
 * ONE object: programs tc00..tc33, where tcNN runs the body (noop, or udp with
 * -DUDP=1; see bench.h) and, when the verdict is XDP_PASS (the proceed
 * verdict), tail-calls chain_map[NN + 1], the key a literal constant in the
 * instruction (r3 = NN + 1); any other verdict is returned. tc_last is the
 * chain's last program: the body, then XDP_PASS. A chain of n programs is
 * tc00..tc(n-2) at indices 0..n-2 and tc_last at index n-1, the array
 * filled once before the first packet. The kernel runs at most 33 tail
 * calls per packet, so the longest chain that ends is 34 programs; tc33
 * is there to build one of 35, which must not.
 *
 * With the key a literal, the verifier needs no map read to know it, and
 * the x86 JIT patches the tail call into a direct jump. A tail call that
 * fails (an empty index, or the kernel's limit of 33 tail calls per packet)
 * falls through to XDP_ABORTED, so a chain that did not run to its end
 * cannot pass for one that did.
 */
#include "bench.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} chain_map SEC(".maps");

#define LINK(I, NEXT)                                      \
	SEC("xdp")                                         \
	int tc##I(struct xdp_md *ctx)                      \
	{                                                  \
		int ret = BODY(ctx);                       \
		if (ret != XDP_PASS)                       \
			return ret;                        \
		bpf_tail_call(ctx, &chain_map, NEXT);      \
		return XDP_ABORTED;                        \
	}

LINK(00, 1) LINK(01, 2) LINK(02, 3) LINK(03, 4) LINK(04, 5) LINK(05, 6)
LINK(06, 7) LINK(07, 8) LINK(08, 9) LINK(09, 10) LINK(10, 11) LINK(11, 12)
LINK(12, 13) LINK(13, 14) LINK(14, 15) LINK(15, 16) LINK(16, 17)
LINK(17, 18) LINK(18, 19) LINK(19, 20) LINK(20, 21) LINK(21, 22)
LINK(22, 23) LINK(23, 24) LINK(24, 25) LINK(25, 26) LINK(26, 27)
LINK(27, 28) LINK(28, 29) LINK(29, 30) LINK(30, 31) LINK(31, 32)
LINK(32, 33) LINK(33, 34)

SEC("xdp")
int tc_last(struct xdp_md *ctx)
{
	return BODY(ctx);
}
