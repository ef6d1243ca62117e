package ratelimit

//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types ratelimit bpf/ratelimit.c -- -I../../bpf/include
