/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * deadfuncs has __noinline functions the verifier proves unreachable: they
 * are called only when the .rodata "extras" is set, and it is 0 (a loader
 * could set it before load, so the compiler keeps the calls). The
 * privileged verifier removes them before it prints the stack depths, as it
 * did for a Katran-style program with 20 functions of which it reported 17.
 * Live: dport, step1..step4. Dead: extra1..extra3 (extra1 calls extra2).
 *
 *   UDP to 7301: XDP_DROP; to 7302: XDP_TX; the rest XDP_PASS.
 */
#include "common.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

volatile const __u32 extras = 0;

static __noinline int dport(struct xdp_md *ctx)
{
	return udp_dport(ctx);
}

/* STACK uses n bytes of stack and returns v. */
#define STACK(n, v)                                   \
	({                                            \
		volatile int buf[(n) / 4];            \
		buf[0] = (v);                         \
		buf[(n) / 4 - 1] = 1;                 \
		buf[0] + buf[(n) / 4 - 1] - 1;        \
	})

static __noinline int extra2(int port) { return STACK(200, port + 2); }
static __noinline int extra1(int port) { return extra2(STACK(100, port)); }
static __noinline int step1(int port) { return STACK(16, port); }
static __noinline int extra3(int port) { return STACK(300, port + 3); }
static __noinline int step2(int port) { return STACK(32, port); }
static __noinline int step3(int port) { return STACK(48, port); }
static __noinline int step4(int port) { return STACK(64, port); }

SEC("xdp")
int deadfuncs(struct xdp_md *ctx)
{
	int port = dport(ctx);

	port = step1(port);
	if (extras & 1)
		port = extra1(port);
	port = step2(port);
	if (extras & 2)
		port = extra3(port);
	port = step3(port);
	port = step4(port);
	if (port == 7301)
		return XDP_DROP;
	if (port == 7302)
		return XDP_TX;
	return XDP_PASS;
}
