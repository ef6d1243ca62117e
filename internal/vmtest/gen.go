package vmtest

//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel probe bpf/probe.c -- -I../../bpf/include
