package testutil

import (
	"testing"

	"github.com/cilium/ebpf"
)

// RunXDP runs prog once on pkt with BPF_PROG_TEST_RUN and returns its
// verdict and the packet as the program left it. It fails the test if the
// run fails.
func RunXDP(tb testing.TB, prog *ebpf.Program, pkt []byte) (verdict uint32, out []byte) {
	tb.Helper()
	out = make([]byte, len(pkt)+256)
	opts := &ebpf.RunOptions{Data: pkt, DataOut: out}
	ret, err := prog.Run(opts)
	if err != nil {
		tb.Fatalf("running %v: %v", prog, err)
	}
	return ret, opts.DataOut
}
