/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * verdict returns a fixed verdict. The object is compiled once per verdict
 * (-DVERDICT=...): verdict_aborted, _drop, _pass, _tx, _redirect and
 * _invalid (7, outside XDP_ABORTED..XDP_REDIRECT).
 */
#include "common.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#ifndef VERDICT
#define VERDICT XDP_PASS
#endif

/* Global, not static, so that loaders can see and set it. */
volatile const __u32 verdict = VERDICT;

SEC("xdp")
int xdp_verdict(struct xdp_md *ctx)
{
	return verdict;
}
