package dispatcher

import (
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
)

// TestCompatiblePinned: data sections are created mmapable, as the loaders
// create them; a .bss pinned before that (without BPF_F_MMAPABLE) is still
// taken, so its state survives an upgrade, but a map of another shape is not.
func TestCompatiblePinned(t *testing.T) {
	testutil.RequireRoot(t)
	spec, err := testprogs.Spec(testprogs.Counter)
	if err != nil {
		t.Fatal(err)
	}
	bss := loaderMapSpec(spec.Maps[".bss"])
	if bss.Flags&unix.BPF_F_MMAPABLE == 0 {
		t.Fatalf(".bss flags %#x: not mmapable", bss.Flags)
	}
	if hits := loaderMapSpec(spec.Maps["hits"]); hits.Flags&unix.BPF_F_MMAPABLE != 0 {
		t.Errorf("map hits made mmapable: %#x", hits.Flags)
	}
	older := bss.Copy()
	older.Flags &^= unix.BPF_F_MMAPABLE
	other := bss.Copy()
	other.ValueSize += 8
	other.Contents = nil
	for _, tc := range []struct {
		name string
		ms   *ebpf.MapSpec
		want bool
	}{
		{"as the loader creates it", bss, true},
		{"pinned before, not mmapable", older, true},
		{"another value size", other, false},
	} {
		m, err := ebpf.NewMap(tc.ms)
		if err != nil {
			t.Fatal(err)
		}
		if got := compatiblePinned(bss, m); got != tc.want {
			t.Errorf("%s: compatible %v, want %v", tc.name, got, tc.want)
		}
		m.Close()
	}
}
