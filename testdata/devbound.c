/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * devbound reads XDP hints through the metadata kfuncs, which the kernel
 * allows only to programs bound to a device (BPF_F_XDP_DEV_BOUND_ONLY and
 * the device's ifindex at load; veth implements them). For UDP to 7402
 * it counts the packet in .bss seen, and in hashed when
 * bpf_xdp_metadata_rx_hash succeeded (the last hash in hash) and in
 * stamped when bpf_xdp_metadata_rx_timestamp did. UDP to 7401 is dropped,
 * the rest passes.
 */
#include "common.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

enum xdp_rss_hash_type {
	XDP_RSS_TYPE_NONE = 0,
};

extern int bpf_xdp_metadata_rx_hash(const struct xdp_md *ctx, __u32 *hash,
				    enum xdp_rss_hash_type *rss_type) __ksym;
extern int bpf_xdp_metadata_rx_timestamp(const struct xdp_md *ctx, __u64 *timestamp) __ksym;

__u64 seen, hashed, stamped;
__u32 hash;

SEC("xdp")
int devbound(struct xdp_md *ctx)
{
	enum xdp_rss_hash_type type = XDP_RSS_TYPE_NONE;
	__u64 ts = 0;
	__u32 h = 0;

	switch (udp_dport(ctx)) {
	case 7401:
		return XDP_DROP;
	case 7402:
		__sync_fetch_and_add(&seen, 1);
		if (bpf_xdp_metadata_rx_hash(ctx, &h, &type) == 0) {
			__sync_fetch_and_add(&hashed, 1);
			hash = h;
		}
		if (bpf_xdp_metadata_rx_timestamp(ctx, &ts) == 0)
			__sync_fetch_and_add(&stamped, 1);
		break;
	}
	return XDP_PASS;
}
