package testutil

import (
	"fmt"
	"testing"

	"github.com/cilium/ebpf"
)

// Instructions returns the instructions of the kernel program with id as
// the kernel translated them (bpftool prog dump xlated), as text: two
// generations built alike compare equal.
func Instructions(tb testing.TB, id uint32) string {
	tb.Helper()
	p, err := ebpf.NewProgramFromID(ebpf.ProgramID(id))
	if err != nil {
		tb.Fatalf("opening program %d: %v", id, err)
	}
	defer p.Close()
	info, err := p.Info()
	if err != nil {
		tb.Fatal(err)
	}
	insns, err := info.Instructions()
	if err != nil {
		tb.Fatalf("reading the instructions of program %d: %v", id, err)
	}
	return fmt.Sprint(insns)
}
