package testprogs

// Programs as they are written without xdpchain in mind.
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem tailself tailself ../../testdata/tailself.c -- -I../../bpf/include
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem untyped untyped ../../testdata/untyped.c -- -I../../bpf/include
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem untyped_one untypedOne ../../testdata/untyped.c -- -I../../bpf/include -DONLY=1
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem deadfuncs deadfuncs ../../testdata/deadfuncs.c -- -I../../bpf/include

// Names of the objects of programs written without xdpchain in mind.
const (
	// TailSelf: tailself tail-calls its own PROG_ARRAY "jumps" (one
	// slot), meant to hold the object's other program, tailself_target.
	// UDP to TailSelfPortA: XDP_TX with the slot filled, XDP_DROP empty;
	// to TailSelfPortB: XDP_DROP filled, XDP_TX empty; the rest passes.
	TailSelf = "tailself"
	// Untyped: programs in sections that name no type and a classifier:
	// xdp_redirect_to_111 (SEC("redirect_to_111")) drops UDP to
	// UntypedPort111, foo (SEC("xdp_foo")) to UntypedPortFoo, xdp_x
	// (SEC("x")) passes, classifier is SEC("tc").
	Untyped = "untyped"
	// UntypedOne: xdp_redirect_to_111 alone.
	UntypedOne = "untyped_one"
	// DeadFuncs: deadfuncs calls __noinline functions, three of which
	// the verifier proves unreachable (.rodata extras = 0). UDP to
	// DeadFuncsPortDrop: XDP_DROP; to DeadFuncsPortTx: XDP_TX; the rest
	// passes.
	DeadFuncs = "deadfuncs"
)

// Ports the programs above act on.
const (
	TailSelfPortA     = 7101
	TailSelfPortB     = 7102
	UntypedPort111    = 7201
	UntypedPortFoo    = 7202
	DeadFuncsPortDrop = 7301
	DeadFuncsPortTx   = 7302
)

func init() {
	objects[TailSelf] = object{_TailselfBytes, "tailself"}
	objects[Untyped] = object{_UntypedBytes, "xdp_redirect_to_111"}
	objects[UntypedOne] = object{_UntypedOneBytes, "xdp_redirect_to_111"}
	objects[DeadFuncs] = object{_DeadfuncsBytes, "deadfuncs"}
}

// A device-bound program (XDP hints).
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem devbound devbound ../../testdata/devbound.c -- -I../../bpf/include

// DevBound: devbound calls the XDP metadata kfuncs
// bpf_xdp_metadata_rx_hash and _rx_timestamp, so it loads only bound to a
// device. UDP to DevBoundPortDrop is dropped; for UDP to DevBoundPortSeen
// it counts the .bss globals seen, hashed (rx_hash succeeded) and stamped
// (rx_timestamp succeeded), and keeps the last hash in hash; the rest
// passes.
const (
	DevBound         = "devbound"
	DevBoundPortDrop = 7401
	DevBoundPortSeen = 7402
)

func init() {
	objects[DevBound] = object{_DevboundBytes, "devbound"}
}
