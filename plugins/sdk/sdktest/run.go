package sdktest

import (
	"fmt"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/xdpchain/xdpchain/plugins/sdk"
)

// Result is what one BPF_PROG_TEST_RUN of an XDP program gives.
type Result struct {
	// Verdict is the program's return value.
	Verdict sdk.Verdict
	// Packet is the packet as the program left it (after
	// bpf_xdp_adjust_head/tail and writes).
	Packet []byte
}

// RunResult runs pkt once through prog with BPF_PROG_TEST_RUN.
func RunResult(prog *ebpf.Program, pkt []byte) (Result, error) {
	out := make([]byte, len(pkt)+256)
	opts := &ebpf.RunOptions{Data: pkt, DataOut: out}
	ret, err := prog.Run(opts)
	if err != nil {
		return Result{}, fmt.Errorf("running %v on a %d-byte packet: %w", prog, len(pkt), err)
	}
	return Result{Verdict: sdk.Verdict(ret), Packet: opts.DataOut}, nil
}

// Run runs pkt once through prog with BPF_PROG_TEST_RUN and returns its
// verdict; it fails the test when the run fails.
func Run(tb testing.TB, prog *ebpf.Program, pkt []byte) sdk.Verdict {
	tb.Helper()
	r, err := RunResult(prog, pkt)
	if err != nil {
		tb.Fatal(err)
	}
	return r.Verdict
}
