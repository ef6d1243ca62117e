/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * monolithic is the hand-written baseline for the dispatcher benchmarks:
 * ONE program that runs N no-op "programs" (N = -DN=1, 4, 16 or 64) in
 * order, with the dispatcher's proceed-on check after each:
 *
 *	ret = noopI(ctx);
 *	if (!((1U << ret) & PROCEED))
 *		return ret;
 *
 * With -DINLINE=1 the no-op bodies are __always_inline (what a programmer
 * would write by hand); otherwise each is a static __noinline subprogram,
 * so every step pays a BPF-to-BPF call as a linked dispatcher slot does.
 * A no-op returns XDP_PASS through opaque(), so the compiler cannot fold
 * the checks away; like the dispatcher's, they are resolved at run time
 * (or pruned by the verifier, which sees the same constant).
 */
#include "common.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#ifndef N
#define N 1
#endif

#if N < 1 || N > 64
#error "N must be between 1 and 64"
#endif

#if defined(INLINE) && INLINE
#define NOOP_ATTR __always_inline
#else
#define NOOP_ATTR __noinline
#endif

#define PROCEED (1U << XDP_PASS)

#define NOOP(I)                                        \
	static NOOP_ATTR int noop##I(struct xdp_md *ctx) \
	{                                                \
		int ret = XDP_PASS;                      \
		opaque(ret);                             \
		return ret;                              \
	}

#define NOOP8(I)                                                   \
	NOOP(I##0) NOOP(I##1) NOOP(I##2) NOOP(I##3) NOOP(I##4)     \
	NOOP(I##5) NOOP(I##6) NOOP(I##7)

NOOP8(0) NOOP8(1) NOOP8(2) NOOP8(3) NOOP8(4) NOOP8(5) NOOP8(6) NOOP8(7)

#define STEP(I)                                        \
	if (0##I < N) { /* I is two octal digits */  \
		ret = noop##I(ctx);                      \
		if (!((1U << ret) & PROCEED))            \
			return ret;                      \
	}

#define STEP8(I)                                                   \
	STEP(I##0) STEP(I##1) STEP(I##2) STEP(I##3) STEP(I##4)     \
	STEP(I##5) STEP(I##6) STEP(I##7)

SEC("xdp")
int monolithic(struct xdp_md *ctx)
{
	__u32 ret;

	STEP8(0) STEP8(1) STEP8(2) STEP8(3) STEP8(4) STEP8(5) STEP8(6) STEP8(7)
	return XDP_PASS;
}
