package blocklist

//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types blocklist bpf/blocklist.c -- -I../../bpf/include
