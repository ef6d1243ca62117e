package testutil

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/cilium/ebpf"
)

// Instructions returns the instructions, as the kernel translated them, of
// the program that id returns the kernel ID of: a root's running
// dispatcher, read again when the program is gone by the time it is opened
// (a generation swapped in between, and the old one freed).
func Instructions(tb testing.TB, id func() uint32) string {
	tb.Helper()
	for attempt := 1; ; attempt++ {
		n := id()
		p, err := ebpf.NewProgramFromID(ebpf.ProgramID(n))
		if errors.Is(err, os.ErrNotExist) && attempt < 100 {
			continue // swapped out since id read it: each retry follows a swap
		}
		if err != nil {
			tb.Fatalf("opening program %d: %v", n, err)
		}
		defer p.Close()
		info, err := p.Info()
		if err != nil {
			tb.Fatal(err)
		}
		insns, err := info.Instructions()
		if err != nil {
			tb.Fatalf("reading the instructions of program %d: %v", n, err)
		}
		return fmt.Sprint(insns)
	}
}
