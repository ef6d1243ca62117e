/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ratelimit limits the packet rate of each source address with a token
 * bucket: a source may send `burst` packets at once and `rate_pps` packets
 * per second on average; packets over the limit are dropped.
 *
 * rl_config (an array of one entry) holds rate_pps and burst; the plugin's Go
 * side writes it at Configure, so new settings take effect without a reload.
 * While rate_pps is 0 (not configured yet) every packet passes.
 *
 * rl_buckets is an LRU hash keyed by source address (IPv4 as IPv4-mapped
 * IPv6), so the least recently seen sources are evicted when it is full.
 * Tokens are counted in nanotokens (1e9 per packet) so that refilling at
 * rate_pps over elapsed nanoseconds needs no division per packet. Updates of
 * one bucket from several CPUs at once are not serialized; the limit is
 * approximate under such races.
 *
 * rl_stats counts passed (index 0) and dropped (index 1) packets per CPU.
 * Packets that are neither IPv4 nor IPv6 pass uncounted.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define NS_PER_TOKEN 1000000000ULL

struct rl_config {
	__u64 rate_pps;
	__u64 burst;
};

struct rl_key {
	__u8 addr[16];
};

struct rl_bucket {
	__u64 tokens; /* nanotokens */
	__u64 last_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct rl_config);
	__uint(max_entries, 1);
} rl_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct rl_key);
	__type(value, struct rl_bucket);
	__uint(max_entries, 65536);
} rl_buckets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 2);
} rl_stats SEC(".maps");

static __always_inline int count(int verdict)
{
	__u32 idx = verdict == XDP_PASS ? 0 : 1;
	__u64 *n = bpf_map_lookup_elem(&rl_stats, &idx);

	if (n)
		*n += 1;
	return verdict;
}

static __always_inline int limit(struct rl_key *key)
{
	__u32 zero = 0;
	struct rl_config *cfg = bpf_map_lookup_elem(&rl_config, &zero);
	struct rl_bucket *b;
	__u64 now, cap, tokens, elapsed, need;

	if (!cfg || cfg->rate_pps == 0)
		return XDP_PASS;
	cap = (cfg->burst ? cfg->burst : 1) * NS_PER_TOKEN;
	now = bpf_ktime_get_ns();

	b = bpf_map_lookup_elem(&rl_buckets, key);
	if (!b) {
		struct rl_bucket fresh = { .tokens = cap - NS_PER_TOKEN, .last_ns = now };

		bpf_map_update_elem(&rl_buckets, key, &fresh, BPF_ANY);
		return count(XDP_PASS);
	}

	tokens = b->tokens;
	if (tokens > cap)
		tokens = cap;
	elapsed = now > b->last_ns ? now - b->last_ns : 0;
	need = cap - tokens;
	/* Full after need/rate ns; below that, elapsed*rate cannot overflow. */
	if (elapsed >= need / cfg->rate_pps + 1)
		tokens = cap;
	else
		tokens += elapsed * cfg->rate_pps;
	b->last_ns = now;

	if (tokens >= NS_PER_TOKEN) {
		b->tokens = tokens - NS_PER_TOKEN;
		return count(XDP_PASS);
	}
	b->tokens = tokens;
	return count(XDP_DROP);
}

SEC("xdp")
int xdp_ratelimit(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct rl_key key = {};

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;

	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > data_end)
			return XDP_PASS;
		key.addr[10] = 0xff;
		key.addr[11] = 0xff;
		__builtin_memcpy(&key.addr[12], &ip->saddr, 4);
		return limit(&key);
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > data_end)
			return XDP_PASS;
		__builtin_memcpy(key.addr, &ip6->saddr, sizeof(key.addr));
		return limit(&key);
	}
	return XDP_PASS;
}
