package bench

import (
	"encoding/binary"
	"os"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/xdpchain/xdpchain/internal/testutil"
)

// TestLoadLibXDP loads libxdp's dispatcher configured for n programs (its
// slots still stubs, which continue the chain) and checks the
// configuration it runs with and its verdict.
func TestLoadLibXDP(t *testing.T) {
	testutil.RequireRoot(t)
	if _, err := os.Stat(libxdpObject); err != nil {
		t.Skipf("libxdp's dispatcher is not installed (xdp-tools): %v", err)
	}
	if s := binary.Size(libxdpConfig{}); s != 124 {
		t.Fatalf("libxdpConfig is %d bytes, libxdp's struct xdp_dispatcher_config 124", s)
	}
	for _, n := range []int{1, 4, LibXDPMaxPrograms} {
		coll, err := loadLibXDP(libxdpObject, n)
		if err != nil {
			t.Fatalf("%d programs: %v", n, err)
		}
		var rodata []byte
		if err := coll.Maps[".rodata"].Lookup(uint32(0), &rodata); err != nil {
			t.Fatal(err)
		}
		if rodata[0] != libxdpMagic || rodata[1] != libxdpVersion || int(rodata[2]) != n {
			t.Errorf("%d programs: configuration starts %v, want magic %d, version %d, %d programs", n, rodata[:4], libxdpMagic, libxdpVersion, n)
		}
		for i := 0; i < LibXDPMaxPrograms; i++ {
			got := binary.NativeEndian.Uint32(rodata[4+4*i:])
			want := uint32(0)
			if i < n {
				want = 1<<xdpPass | 1<<libxdpRetval
			}
			if got != want {
				t.Errorf("%d programs: chain_call_actions[%d] = %#x, want %#x", n, i, got, want)
			}
		}
		ret, err := coll.Programs[libxdpProgram].Run(&ebpf.RunOptions{Data: udpPacket()})
		if err != nil || ret != xdpPass {
			t.Errorf("%d programs: ran to %d, %v; want XDP_PASS", n, ret, err)
		}
		coll.Close()
	}
	if _, err := loadLibXDP("/nonexistent/xdp-dispatcher.o", 1); err == nil {
		t.Error("loading a missing object: no error")
	}
}
