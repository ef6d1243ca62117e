package dispatcher

//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -type xdpchain_counters dispatcher ../bpf/dispatcher.c -- -I../bpf/include
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types xsk ../bpf/xsk.c -- -I../bpf/include
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types call ../bpf/call.c -- -I../bpf/include
