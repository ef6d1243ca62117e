/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * udp is the benchmark's realistic program: it parses Ethernet, IPv4 and
 * UDP with bounds checks, drops datagrams to UDP port 4789 and passes
 * everything else (the benchmark packet goes to port 9). See bench.h.
 */
#include "bench.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int udp(struct xdp_md *ctx)
{
	return udp_body(ctx);
}
