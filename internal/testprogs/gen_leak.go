package testprogs

// A program that writes a kernel address into the packet
// (testdata/leak.c): loadable as root, refused for unprivileged owners.
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem leak leak ../../testdata/leak.c -- -I../../bpf/include

// Leak names the object whose program leaks a map value pointer into
// the packet.
const Leak = "leak"

func init() {
	objects[Leak] = object{_LeakBytes, "leak"}
}
