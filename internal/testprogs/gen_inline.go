package testprogs

// The risky cases of inline splicing (testdata/inline.c).
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem inline inline ../../testdata/inline.c -- -I../../bpf/include -DDEPTH=480

// Inline names the inline test object; its programs are subprogs,
// multiexit, mapverdict, tailcall and deep (480 bytes of stack).
const Inline = "inline"

// UDP destination ports the inline test programs act on.
const (
	InlinePortSubprog = 7001 // subprogs drops (static subprogram)
	InlinePortGlobal  = 7002 // subprogs drops (global function)
	InlinePortDrop    = 7003 // multiexit drops
	InlinePortTx      = 7004 // multiexit returns XDP_TX
)

func init() {
	objects[Inline] = object{_InlineBytes, "subprogs"}
}
