/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * blocklist drops IPv4 and IPv6 packets whose source address lies in one of
 * a set of prefixes, and passes everything else.
 *
 * The prefixes live in two LPM tries, bl_v4 and bl_v6 (one per address
 * family, so each key is exactly as long as its address). The value of a
 * trie entry is the prefix's index into bl_hits, a per-CPU array of packet
 * counters: user space (the plugin's Go side) assigns the indices, keeps an
 * index for as long as its prefix stays in the set, and zeroes a counter
 * before giving its index to a new prefix. Changing the set is a matter of
 * map updates; the program is never reloaded.
 *
 * Packets that are neither IPv4 nor IPv6 (after at most one VLAN tag), or are
 * too short to hold their IP header, are passed.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define BL_MAX_PREFIXES 1024

struct bl_key_v4 {
	__u32 prefixlen;
	__u8 addr[4];
};

struct bl_key_v6 {
	__u32 prefixlen;
	__u8 addr[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct bl_key_v4);
	__type(value, __u32);
	__uint(max_entries, BL_MAX_PREFIXES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} bl_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct bl_key_v6);
	__type(value, __u32);
	__uint(max_entries, BL_MAX_PREFIXES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} bl_v6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, BL_MAX_PREFIXES);
} bl_hits SEC(".maps");

struct vlan_hdr {
	__be16 tci;
	__be16 proto;
};

static __always_inline int hit(__u32 *idx)
{
	__u64 *count;

	if (!idx)
		return XDP_PASS;
	count = bpf_map_lookup_elem(&bl_hits, idx);
	if (count)
		*count += 1;
	return XDP_DROP;
}

SEC("xdp")
int xdp_blocklist(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	void *l3;
	__be16 proto;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	proto = eth->h_proto;
	l3 = eth + 1;
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD)) {
		struct vlan_hdr *vlan = l3;

		if ((void *)(vlan + 1) > data_end)
			return XDP_PASS;
		proto = vlan->proto;
		l3 = vlan + 1;
	}

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = l3;
		struct bl_key_v4 key = { .prefixlen = 32 };

		if ((void *)(ip + 1) > data_end)
			return XDP_PASS;
		__builtin_memcpy(key.addr, &ip->saddr, sizeof(key.addr));
		return hit(bpf_map_lookup_elem(&bl_v4, &key));
	}
	if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = l3;
		struct bl_key_v6 key = { .prefixlen = 128 };

		if ((void *)(ip6 + 1) > data_end)
			return XDP_PASS;
		__builtin_memcpy(key.addr, &ip6->saddr, sizeof(key.addr));
		return hit(bpf_map_lookup_elem(&bl_v6, &key));
	}
	return XDP_PASS;
}
