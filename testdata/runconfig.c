/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * runconfig is a libxdp-style program: its .xdp_run_config metadata asks
 * for priority 20 and proceed-on XDP_PASS and XDP_DROP. It passes every
 * packet.
 */
#include "common.h"
#include <xdp/xdp_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(priority, 20);
	__uint(XDP_PASS, 1);
	__uint(XDP_DROP, 1);
} XDP_RUN_CONFIG(runconfig);

SEC("xdp")
int runconfig(struct xdp_md *ctx)
{
	return XDP_PASS;
}
