#!/usr/bin/env bash
# xdpchain demo (`sudo make demo`): two network namespaces joined by a veth
# pair; two example XDP programs chained on the receiving end with
# `xdpchain load --netns`; UDP traffic over IPv4 and IPv6; `xdpchain status`
# shows what each program did to it. Everything is removed on exit.
#
# Needs root, iproute2 and bash. The programs are the committed test objects
# in internal/testprogs (sources in testdata/):
#   dropport  drops UDP to port 9999 (libxdp metadata: priority 10)
#   counter   counts the packets it sees, passes them (loaded at priority 20)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
XDPCHAIN=${XDPCHAIN:-$ROOT/bin/xdpchain}
PROGS=$ROOT/internal/testprogs
SENDER=xdpchain-demo-tx-$$
RECEIVER=xdpchain-demo-rx-$$
IFACE=veth1
DROPPED=20 # datagrams to port 9999, per IP version
PASSED=30  # datagrams to port 7777, per IP version

if [[ $EUID -ne 0 ]]; then
	echo "demo.sh: needs root (try: sudo make demo)" >&2
	exit 1
fi
if [[ ! -x $XDPCHAIN ]]; then
	echo "demo.sh: $XDPCHAIN not built (try: make build)" >&2
	exit 1
fi

if [[ -t 1 ]]; then
	step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
	step() { printf '\n== %s\n' "$*"; }
fi
run() { printf '$ %s\n' "$*"; "$@"; }

cleanup() {
	local rc=$?
	trap - EXIT
	step "cleaning up"
	if ip netns list 2>/dev/null | grep -qw "$RECEIVER"; then
		"$XDPCHAIN" detach --netns "$RECEIVER" "$IFACE" 2>/dev/null || true
	fi
	ip netns del "$SENDER" 2>/dev/null || true
	ip netns del "$RECEIVER" 2>/dev/null || true
	exit "$rc"
}
trap cleanup EXIT

step "network namespaces $SENDER and $RECEIVER, joined by veth0 <-> veth1"
for ns in "$SENDER" "$RECEIVER"; do
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	# No duplicate address detection: addresses are usable at once.
	ip netns exec "$ns" sh -c 'echo 0 > /proc/sys/net/ipv6/conf/all/accept_dad; echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad'
done
ip -n "$SENDER" link add veth0 type veth peer name veth1 netns "$RECEIVER"
ip -n "$SENDER" addr add 10.99.0.1/24 dev veth0
ip -n "$SENDER" addr add 2001:db8:99::1/64 dev veth0 nodad
ip -n "$RECEIVER" addr add 10.99.0.2/24 dev veth1
ip -n "$RECEIVER" addr add 2001:db8:99::2/64 dev veth1 nodad
ip -n "$SENDER" link set veth0 up
ip -n "$RECEIVER" link set veth1 up
# Wait until IPv6 is configured on both ends (their link-local addresses).
for _ in $(seq 100); do
	if ip -n "$SENDER" -6 addr show dev veth0 scope link | grep -q fe80 &&
		ip -n "$RECEIVER" -6 addr show dev veth1 scope link | grep -q fe80; then
		break
	fi
	sleep 0.05
done
ip -n "$RECEIVER" -brief addr show dev veth1

step "loading two programs into the chain of $IFACE in $RECEIVER"
run "$XDPCHAIN" load --netns "$RECEIVER" --name dropport "$IFACE" "$PROGS/dropport_bpfel.o"
run "$XDPCHAIN" load --netns "$RECEIVER" --name counter --priority 20 "$IFACE" "$PROGS/counter_bpfel.o"
run "$XDPCHAIN" status --netns "$RECEIVER" "$IFACE"

step "sending UDP from $SENDER: $DROPPED datagrams to port 9999 and $PASSED to port 7777, over IPv4 and IPv6"
ip netns exec "$SENDER" bash -c '
	for dst in 10.99.0.2 2001:db8:99::2; do
		for ((i = 0; i < '"$DROPPED"'; i++)); do echo "to be dropped $i" >"/dev/udp/$dst/9999"; done
		for ((i = 0; i < '"$PASSED"'; i++)); do echo "to be passed $i" >"/dev/udp/$dst/7777"; done
	done'
sleep 0.2

step "status"
run "$XDPCHAIN" status --netns "$RECEIVER" "$IFACE"
json=$("$XDPCHAIN" status --netns "$RECEIVER" --json "$IFACE")
printf '$ %s status --netns %s --json %s\n%s\n' "$XDPCHAIN" "$RECEIVER" "$IFACE" "$json"

if command -v jq >/dev/null; then
	# Neighbour discovery and ICMP errors also pass through the chain, so
	# passes are at least what was sent; drops are exact.
	drops=$(jq '[.interfaces[0].programs[] | select(.name == "dropport") | .stats.drop] | add' <<<"$json")
	counted=$(jq '[.interfaces[0].programs[] | select(.name == "counter") | .stats.pass] | add' <<<"$json")
	step "check"
	echo "dropport dropped $drops datagrams (sent $((2 * DROPPED)) to port 9999)"
	echo "counter passed $counted packets (sent $((2 * PASSED)) datagrams to port 7777)"
	if [[ $drops -ne $((2 * DROPPED)) || $counted -lt $((2 * PASSED)) ]]; then
		echo "demo.sh: counters do not match the traffic" >&2
		exit 1
	fi

	# A program's maps are pinned per interface: counter's own count.
	inode=$(jq '.interfaces[0].netns_inode' <<<"$json")
	ifindex=$(jq '.interfaces[0].ifindex' <<<"$json")
	pin=/sys/fs/bpf/xdpchain/$inode/$ifindex/maps/counter/hits
	if command -v bpftool >/dev/null && [[ -e $pin ]]; then
		step "counter's own map, pinned at $pin"
		run bpftool map dump pinned "$pin"
	fi
fi

step "unloading dropport; the root and counter stay"
run "$XDPCHAIN" unload --netns "$RECEIVER" --name dropport "$IFACE"
run "$XDPCHAIN" status --netns "$RECEIVER" "$IFACE"
