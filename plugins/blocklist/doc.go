// Package blocklist is an example xdpchain plugin: it drops IPv4 and IPv6
// packets whose source address is in a set of prefixes, counts the drops
// per prefix, and takes new sets at run time without reloading its program.
//
// Settings ([plugin.settings] in the daemon's config):
//
//	prefixes = ["192.0.2.0/24", "2001:db8::/32"]
//
// The BPF side (bpf/blocklist.c) keeps one LPM trie per address family
// (maps bl_v4 and bl_v6) whose values index a per-CPU array of hit counters
// (bl_hits). IPv4-mapped IPv6 prefixes (::ffff:0:0/96 and longer) go into the
// IPv6 trie and match only IPv6 packets. At most 1024 prefixes.
//
// The binary is cmd/xdpchain-blocklist.
package blocklist
