package dispatcher

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// attachLo attaches a root to lo of a new network namespace (skb mode),
// with pins on a private bpffs; it is detached and closed when the test
// ends.
func attachLo(t *testing.T) (*Root, *Options) {
	t.Helper()
	_, opts := loOptions(t)
	r, err := Attach("lo", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Detach(); err != nil {
			t.Errorf("detaching: %v", err)
		}
		r.Close()
	})
	return r, opts
}

// loOptions are the options of attachLo: a new network namespace (whose lo
// takes the root), a private bpffs and state directory, linked slots.
func loOptions(t *testing.T) (*testutil.NetNS, *Options) {
	t.Helper()
	testutil.RequireRoot(t)
	ns := testutil.NewNetNS(t)
	return ns, &Options{NetNS: ns.Name, BPFFS: testutil.PrivateBPFFS(t), StateDir: t.TempDir(), Mechanism: Linked}
}

func TestMissingInterface(t *testing.T) {
	vmtest.LogWhere(t)
	testutil.RequireRoot(t)
	ns := testutil.NewNetNS(t)
	opts := &Options{NetNS: ns.Name, BPFFS: testutil.PrivateBPFFS(t), StateDir: t.TempDir()}
	for name, fn := range map[string]func(string, *Options) (*Root, error){"Open": Open, "Attach": Attach} {
		r, err := fn("xdpc-missing0", opts)
		if err == nil {
			r.Close()
			t.Fatalf("%s of a missing interface succeeded", name)
		}
		if msg := err.Error(); !strings.Contains(msg, `interface "xdpc-missing0"`) || !strings.Contains(msg, "not found") {
			t.Errorf("%s: %q, want it to name the interface and say it is not found", name, msg)
		}
		if errors.Is(err, ErrNotAttached) {
			t.Errorf("%s: a missing interface reported as ErrNotAttached", name)
		}
	}
	if _, err := os.Stat(filepath.Join(opts.BPFFS, "xdpchain")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("failed opens left pins in the bpffs: %v", err)
	}
	if entries, _ := os.ReadDir(opts.StateDir); len(entries) != 0 {
		t.Errorf("failed opens left %v in the state directory", entries)
	}

	opts.NetNS = "xdpchain-no-such-netns"
	if r, err := Attach("lo", opts); err == nil {
		r.Close()
		t.Error("Attach in a missing network namespace succeeded")
	} else if !strings.Contains(err.Error(), `network namespace "xdpchain-no-such-netns"`) {
		t.Errorf("missing namespace: %v", err)
	}
}

// TestAttachThenOpen: a second handle finds the root the first created,
// with the same interface, pins and running dispatcher.
func TestAttachThenOpen(t *testing.T) {
	vmtest.LogWhere(t)
	r, opts := attachLo(t)
	name, idx := r.Interface()
	if name != "lo" || idx != 1 {
		t.Errorf("Interface() = %s, %d; want lo, 1", name, idx)
	}
	if r.st.Mode != ModeSKB || r.st.Mechanism != Linked || r.st.Generation != 0 || len(r.st.Programs) != 0 {
		t.Errorf("new root state: %+v", r.st)
	}
	info, err := r.link.Info()
	if err != nil {
		t.Fatal(err)
	}
	if uint32(info.Program) != r.st.DispatcherID || r.st.DispatcherID == 0 {
		t.Errorf("running dispatcher %d, state says %d", info.Program, r.st.DispatcherID)
	}
	o, err := Open("lo", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if o.pins != r.pins || o.st.DispatcherID != r.st.DispatcherID {
		t.Errorf("Open found pins %+v dispatcher %d, Attach made %+v %d", o.pins, o.st.DispatcherID, r.pins, r.st.DispatcherID)
	}
	strict := *opts
	strict.Mode = ModeNative
	if o2, err := Open("lo", &strict); !errors.Is(err, ErrInvalid) {
		if err == nil {
			o2.Close()
		}
		t.Errorf("opening an skb root in native mode: %v, want ErrInvalid", err)
	}
}
