/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The contract between the xdpchain root dispatcher and its Go loader
 * (dispatcher/generation.go). Changing anything here means bumping
 * XDPCHAIN_CONFIG_VERSION.
 */
#ifndef XDPCHAIN_DISPATCHER_H
#define XDPCHAIN_DISPATCHER_H

#include <linux/types.h>

#define XDPCHAIN_MAX_SLOTS 64
/* Counter index 0 is the fall-through counter; programs get 1..MAX_COUNTERS. */
#define XDPCHAIN_MAX_COUNTERS (2 * XDPCHAIN_MAX_SLOTS)

#define XDPCHAIN_CONFIG_MAGIC 0x43504458 /* "XDPC" */
#define XDPCHAIN_CONFIG_VERSION 2

/* Returned by an empty slot stub: the chain always continues past it. */
#define XDPCHAIN_SLOT_EMPTY 31

/* Global flags. */
#define XDPCHAIN_F_COUNTERS (1U << 0)

/* Per-slot flags. */
#define XDPCHAIN_SLOT_F_SHADOW (1U << 0) /* count the verdict, always continue */
/*
 * The slot proceeds on one verdict (proceed_on has one bit), may return
 * it, and is no shadow: the packets it passes on are not counted at it but
 * derived by the loader from what the later slots and the fall-through
 * counted (dispatcher/stats.go), so that a packet is counted once, where it
 * ends.
 */
#define XDPCHAIN_SLOT_F_DERIVED (1U << 1)

/* Columns of a counter entry. XDP verdicts first, so a verdict is its column. */
enum xdpchain_column {
	XDPCHAIN_COL_ABORTED = 0,
	XDPCHAIN_COL_DROP,
	XDPCHAIN_COL_PASS,
	XDPCHAIN_COL_TX,
	XDPCHAIN_COL_REDIRECT,
	XDPCHAIN_COL_INVALID, /* verdict outside XDP_ABORTED..XDP_REDIRECT */
	XDPCHAIN_COL_DENIED,  /* verdict the slot is not allowed to return */
	XDPCHAIN_COL_EMPTY,   /* the slot returned XDPCHAIN_SLOT_EMPTY: continued */
	XDPCHAIN_NUM_COLUMNS,
};

/*
 * All counters of an interface, in the one element of a per-CPU array, so
 * that a packet costs one map lookup however many slots it crosses. A
 * generation counts each packet once, where it ends: in the row of the slot
 * whose verdict ended it (config counter[n]; a slot with
 * XDPCHAIN_SLOT_F_DERIVED does not count the verdict it proceeds on), or in
 * row 0, column fallthrough_column, when it falls off the chain. Two
 * generations in a row never share a row or that column, so each
 * generation's counts can be told apart after it is replaced.
 */
struct xdpchain_counters {
	__u64 packets[XDPCHAIN_MAX_COUNTERS + 1][XDPCHAIN_NUM_COLUMNS];
};

struct xdpchain_config {
	__u32 magic;
	__u32 version;
	__u32 num_slots;
	__u32 fallthrough;
	__u32 flags;
	__u32 fallthrough_column; /* row 0's column counting fall-through */
	__u32 proceed_on[XDPCHAIN_MAX_SLOTS]; /* bit per verdict: continue the chain */
	__u32 allowed[XDPCHAIN_MAX_SLOTS];    /* bit per verdict: may be returned */
	__u32 counter[XDPCHAIN_MAX_SLOTS];    /* index into xdpchain_stats */
	__u32 slot_flags[XDPCHAIN_MAX_SLOTS];
};

#endif
