/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Shared includes for xdpchain's BPF test programs. */
#ifndef XDPCHAIN_TESTDATA_COMMON_H
#define XDPCHAIN_TESTDATA_COMMON_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/*
 * opaque hides a value from the compiler without emitting an instruction,
 * so that a constant verdict is not folded into its caller's checks.
 */
#define opaque(x) asm volatile("" : "+r"(x))

#endif
