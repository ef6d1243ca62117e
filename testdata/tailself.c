/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * tailself tail-calls into its own PROG_ARRAY, as Katran's xdp_root does
 * with its root_array: jumps[0] is meant to hold tailself_target, a program
 * of the same object, which its loader puts there. With the slot empty the
 * tail call falls through and tailself decides itself.
 *
 *   UDP to 7101:  filled: XDP_TX (the target)   empty: XDP_DROP
 *   UDP to 7102:  filled: XDP_DROP              empty: XDP_TX
 *   anything else: XDP_PASS either way
 */
#include "common.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define PORT_A 7101
#define PORT_B 7102

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} jumps SEC(".maps");

SEC("xdp")
int tailself_target(struct xdp_md *ctx)
{
	switch (udp_dport(ctx)) {
	case PORT_A:
		return XDP_TX;
	case PORT_B:
		return XDP_DROP;
	}
	return XDP_PASS;
}

SEC("xdp")
int tailself(struct xdp_md *ctx)
{
	bpf_tail_call(ctx, &jumps, 0);
	switch (udp_dport(ctx)) {
	case PORT_A:
		return XDP_DROP;
	case PORT_B:
		return XDP_TX;
	}
	return XDP_PASS;
}
