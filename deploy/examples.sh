#!/bin/sh
# Copies the example BPF objects into DIR (make build: bin/examples; the
# .deb and the image: /usr/share/xdpchain/examples). They are compiled from
# testdata/*.c by bpf2go into internal/testprogs (go generate), committed:
#   counter.o   counts every packet (map "hits", .bss "packets") and passes it
#   dropport.o  drops UDP to port 9999 (IPv4 and IPv6), passes the rest;
#               priority 10, proceed on pass (its XDP_RUN_CONFIG)
# Usage: deploy/examples.sh DIR
set -eu
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
src=$(dirname "$0")/../internal/testprogs
mkdir -p "$1"
for name in counter dropport; do
	install -m 0644 "$src/${name}_bpfel.o" "$1/$name.o"
done
