// Package ratelimit is an example xdpchain plugin: a per-source-address
// packet-rate limit with a token bucket per source in an LRU hash.
//
// Settings ([plugin.settings] in the daemon's config):
//
//	rate_pps = 1000   # average packets per second per source (> 0)
//	burst    = 100    # packets a source may send at once (default rate_pps)
//
// The Go side writes the settings into the one-entry array rl_config at
// Configure, so changes need no reload; buckets keep their state. See
// bpf/ratelimit.c for the details. The binary is cmd/xdpchain-ratelimit.
package ratelimit
