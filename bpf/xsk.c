/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * xdpchain's built-in AF_XDP program (`xdpchain load --xsk`, `xsk = true`).
 *
 * A packet is redirected to the AF_XDP socket bound to the queue it arrived
 * on, through xsks_map (an XSKMAP indexed by RX queue, pinned with the
 * program's maps and shown by `xdpchain status` as its xskmap). Where no
 * socket is bound to the queue, bpf_redirect_map returns its flags'
 * fallback, XDP_PASS, so the chain goes on as if the program were absent.
 * Applications put their sockets into the map as libxdp applications that
 * load no program of their own do (XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD and
 * xsk_socket__update_xskmap).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* One entry per RX queue; 256 covers every NIC's queue count seen. */
#define XDPCHAIN_XSK_QUEUES 256

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, XDPCHAIN_XSK_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xsks_map SEC(".maps");

SEC("xdp")
int xdpchain_xsk(struct xdp_md *ctx)
{
	return bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS);
}
