/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * monolithic is the hand-written baseline for the dispatcher benchmarks:
 * ONE program that runs N "programs" (N = -DN=1, 4, 10, 16 or 64) in
 * order, with the dispatcher's proceed-on check after each:
 *
 *	ret = bodyI(ctx);
 *	if (!((1U << ret) & PROCEED))
 *		return ret;
 *
 * Each body is bench.h's noop_body, or udp_body with -DUDP=1 (parse
 * Ethernet/IPv4/UDP, compare the destination port), the same code the
 * noop and udp programs run alone.
 *
 * With -DINLINE=1 the bodies are __always_inline, back to back in one
 * function (what a programmer would write by hand); otherwise each is a
 * static __noinline subprogram, so every step pays a BPF-to-BPF call as a
 * linked dispatcher slot does. A noop returns XDP_PASS through opaque(), so
 * the compiler cannot fold the checks away; like the dispatcher's, they are
 * resolved at run time (or pruned by the verifier, which sees the same
 * constant). Inlined, every body starts behind a compiler memory barrier,
 * so that it reads ctx and the packet anew and clang cannot merge the N
 * udp bodies into one parse, and every body's verdict passes through
 * opaque(), as a separately built program's verdict is a value its caller
 * tests: without it clang folds the proceed-on test into the body's own
 * branches, which no chain of independently built programs can do.
 *
 * With -DTX=1 the N bodies are followed by the final program of the real
 * packet path benchmark (xdpchain bench --path veth), verdict.c's body
 * with -DVERDICT=XDP_TX: it returns the .rodata constant "verdict"
 * (XDP_TX) where the plain variants return XDP_PASS. That is the chain of
 * N bodies and the final program merged by hand into one program, the
 * limit a dispatcher running them in sequence is measured against.
 */
#include "bench.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#ifndef N
#define N 1
#endif

#if N < 1 || N > 64
#error "N must be between 1 and 64"
#endif

#if defined(INLINE) && INLINE
#define BODY_ATTR __always_inline
#define BARRIER() asm volatile("" ::: "memory")
#else
#define BODY_ATTR __noinline
#define BARRIER()
#endif

#define PROCEED (1U << XDP_PASS)

#if defined(TX) && TX
/* Global, not static, as in verdict.c: a load the compiler cannot fold. */
volatile const __u32 verdict = XDP_TX;
#define FINAL verdict
#else
#define FINAL XDP_PASS
#endif

#define FN(I)                                        \
	static BODY_ATTR int body##I(struct xdp_md *ctx) \
	{                                                \
		int ret;                                 \
		BARRIER();                               \
		ret = BODY(ctx);                         \
		opaque(ret);                             \
		return ret;                              \
	}

#define FN8(I)                                                   \
	FN(I##0) FN(I##1) FN(I##2) FN(I##3) FN(I##4)     \
	FN(I##5) FN(I##6) FN(I##7)

FN8(0) FN8(1) FN8(2) FN8(3) FN8(4) FN8(5) FN8(6) FN8(7)

#define STEP(I)                                        \
	if (0##I < N) { /* I is two octal digits */  \
		ret = body##I(ctx);                      \
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
	return FINAL;
}
