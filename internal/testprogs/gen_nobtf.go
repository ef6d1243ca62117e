package testprogs

import _ "embed"

// An object without BTF, built as iproute2's examples are: clang without
// -g (bpf2go always adds -g, so clang builds it directly).
//go:generate clang -O2 -Wall -Werror -target bpf -c ../../testdata/nobtf.c -I../../bpf/include -o nobtf_bpfel.o

//go:embed nobtf_bpfel.o
var _NobtfBytes []byte

// NoBTF names the object without BTF. Its program nobtf passes every
// packet in one function; NoBTFSubprog does the same through a static
// subprogram, which needs BTF.
const (
	NoBTF        = "nobtf"
	NoBTFSubprog = "nobtf_subprog"
)

func init() {
	objects[NoBTF] = object{_NobtfBytes, "nobtf"}
}
