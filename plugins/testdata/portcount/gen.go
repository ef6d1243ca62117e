package portcount

// The BPF headers come from the xdpchain module (bpf/include), wherever Go
// keeps it: the module cache, or the directory a replace directive names.
//go:generate sh -c "go tool bpf2go -cc clang -cflags '-O2 -g -Wall -Werror' -target bpfel -no-global-types portcount bpf/portcount.c -- -I$(go list -m -f '{{.Dir}}' github.com/xdpchain/xdpchain)/bpf/include"
