/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * xdpchain root dispatcher.
 *
 * One XDP entry point calls up to XDPCHAIN_MAX_SLOTS slot functions in
 * order. Each slot is a global, non-inlined function so that it is verified
 * on its own and can be replaced: by an freplace (BPF_PROG_TYPE_EXT) program,
 * or by the loader splicing a program's instructions in its place (linking).
 *
 * The configuration lives in .rodata and is written by the loader before
 * the program is loaded, so the verifier sees constants and prunes every
 * unused slot: each change to a chain loads a new generation of this
 * program, which is swapped in atomically with BPF_LINK_UPDATE.
 *
 * The entry point below, xdpchain_root, is the reference implementation of
 * the chain's semantics. For production generations the loader emits an
 * equivalent root per generation with the configuration folded into the
 * instructions as immediates (dispatcher/root.go): the verifier prunes dead
 * branches but still executes every read of a known constant, which costs
 * a few nanoseconds per slot. The test suite runs its semantics table
 * against both. The slot stubs, maps and BTF of this object are used by
 * both roots.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "dispatcher.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

volatile const struct xdpchain_config xdpchain_cfg = {
	.magic = XDPCHAIN_CONFIG_MAGIC,
	.version = XDPCHAIN_CONFIG_VERSION,
	.num_slots = 0,
	.fallthrough = XDP_PASS,
	.flags = XDPCHAIN_F_COUNTERS,
};

/* Per-CPU packet counters: one element, a row per program (dispatcher.h). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdpchain_counters);
} xdpchain_stats SEC(".maps");

/*
 * Slot stubs. The no-op bpf_xdp_adjust_tail() marks the stub as one that
 * may invalidate packet pointers, which newer verifiers require before a
 * program that does so may replace it.
 */
#define SLOT(N)                                                      \
	__attribute__((noinline)) int xdpchain_slot##N(struct xdp_md *ctx) \
	{                                                            \
		volatile int ret = XDPCHAIN_SLOT_EMPTY;              \
		if (!ctx)                                            \
			return XDP_ABORTED;                          \
		bpf_xdp_adjust_tail(ctx, 0);                         \
		return ret;                                          \
	}

SLOT(0)
SLOT(1)
SLOT(2)
SLOT(3)
SLOT(4)
SLOT(5)
SLOT(6)
SLOT(7)
SLOT(8)
SLOT(9)
SLOT(10)
SLOT(11)
SLOT(12)
SLOT(13)
SLOT(14)
SLOT(15)
SLOT(16)
SLOT(17)
SLOT(18)
SLOT(19)
SLOT(20)
SLOT(21)
SLOT(22)
SLOT(23)
SLOT(24)
SLOT(25)
SLOT(26)
SLOT(27)
SLOT(28)
SLOT(29)
SLOT(30)
SLOT(31)
SLOT(32)
SLOT(33)
SLOT(34)
SLOT(35)
SLOT(36)
SLOT(37)
SLOT(38)
SLOT(39)
SLOT(40)
SLOT(41)
SLOT(42)
SLOT(43)
SLOT(44)
SLOT(45)
SLOT(46)
SLOT(47)
SLOT(48)
SLOT(49)
SLOT(50)
SLOT(51)
SLOT(52)
SLOT(53)
SLOT(54)
SLOT(55)
SLOT(56)
SLOT(57)
SLOT(58)
SLOT(59)
SLOT(60)
SLOT(61)
SLOT(62)
SLOT(63)

static __always_inline void count(struct xdpchain_counters *c, __u32 row, __u32 column)
{
	if (!c)
		return;
	/* Hide the values' known ranges from the compiler, so that the
	 * bounds the verifier needs are not optimised away. */
	asm volatile("" : "+r"(row), "+r"(column));
	if (row > XDPCHAIN_MAX_COUNTERS)
		return;
	column &= XDPCHAIN_NUM_COLUMNS - 1;
	c->packets[row][column]++;
}

/*
 * settle turns a slot's return value into a verdict: invalid and denied
 * values become XDP_ABORTED, and the outcome is counted for the slot's
 * program.
 */
static __always_inline __u32 settle(struct xdpchain_counters *c, __u32 n, __u32 ret)
{
	__u32 column = ret;

	if (ret > XDP_REDIRECT) {
		column = XDPCHAIN_COL_INVALID;
		ret = XDP_ABORTED;
	} else if (!((1U << ret) & xdpchain_cfg.allowed[n])) {
		column = XDPCHAIN_COL_DENIED;
		ret = XDP_ABORTED;
	}
	/* A derived slot's proceed verdict is counted by what comes after. */
	if (!((xdpchain_cfg.slot_flags[n] & XDPCHAIN_SLOT_F_DERIVED) && column == ret &&
	      ((1U << ret) & xdpchain_cfg.proceed_on[n])))
		count(c, xdpchain_cfg.counter[n], column);
	return ret;
}

#define RUN_SLOT(N)                                                       \
	do {                                                              \
		if (N >= xdpchain_cfg.num_slots)                          \
			goto fallthrough;                                 \
		ret = xdpchain_slot##N(ctx);                              \
		if (ret == XDPCHAIN_SLOT_EMPTY) {                         \
			count(c, xdpchain_cfg.counter[N], XDPCHAIN_COL_EMPTY); \
			break;                                            \
		}                                                         \
		ret = settle(c, N, ret);                                  \
		if (xdpchain_cfg.slot_flags[N] & XDPCHAIN_SLOT_F_SHADOW)  \
			break;                                            \
		if (!((1U << ret) & xdpchain_cfg.proceed_on[N]))          \
			return ret;                                       \
	} while (0)

SEC("xdp")
int xdpchain_root(struct xdp_md *ctx)
{
	struct xdpchain_counters *c = NULL;
	__u32 ret, zero = 0;

	if (xdpchain_cfg.flags & XDPCHAIN_F_COUNTERS)
		c = bpf_map_lookup_elem(&xdpchain_stats, &zero);

	RUN_SLOT(0);
	RUN_SLOT(1);
	RUN_SLOT(2);
	RUN_SLOT(3);
	RUN_SLOT(4);
	RUN_SLOT(5);
	RUN_SLOT(6);
	RUN_SLOT(7);
	RUN_SLOT(8);
	RUN_SLOT(9);
	RUN_SLOT(10);
	RUN_SLOT(11);
	RUN_SLOT(12);
	RUN_SLOT(13);
	RUN_SLOT(14);
	RUN_SLOT(15);
	RUN_SLOT(16);
	RUN_SLOT(17);
	RUN_SLOT(18);
	RUN_SLOT(19);
	RUN_SLOT(20);
	RUN_SLOT(21);
	RUN_SLOT(22);
	RUN_SLOT(23);
	RUN_SLOT(24);
	RUN_SLOT(25);
	RUN_SLOT(26);
	RUN_SLOT(27);
	RUN_SLOT(28);
	RUN_SLOT(29);
	RUN_SLOT(30);
	RUN_SLOT(31);
	RUN_SLOT(32);
	RUN_SLOT(33);
	RUN_SLOT(34);
	RUN_SLOT(35);
	RUN_SLOT(36);
	RUN_SLOT(37);
	RUN_SLOT(38);
	RUN_SLOT(39);
	RUN_SLOT(40);
	RUN_SLOT(41);
	RUN_SLOT(42);
	RUN_SLOT(43);
	RUN_SLOT(44);
	RUN_SLOT(45);
	RUN_SLOT(46);
	RUN_SLOT(47);
	RUN_SLOT(48);
	RUN_SLOT(49);
	RUN_SLOT(50);
	RUN_SLOT(51);
	RUN_SLOT(52);
	RUN_SLOT(53);
	RUN_SLOT(54);
	RUN_SLOT(55);
	RUN_SLOT(56);
	RUN_SLOT(57);
	RUN_SLOT(58);
	RUN_SLOT(59);
	RUN_SLOT(60);
	RUN_SLOT(61);
	RUN_SLOT(62);
	RUN_SLOT(63);

fallthrough:
	ret = xdpchain_cfg.fallthrough;
	count(c, 0, xdpchain_cfg.fallthrough_column);
	return ret;
}
