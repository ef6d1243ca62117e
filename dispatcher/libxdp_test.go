package dispatcher_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/vishvananda/netlink/nl"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// freplaceRefusal is the kernel's reason for refusing freplace here, or ""
// where it allows it.
func freplaceRefusal() string {
	for _, f := range dispatcher.MechanismSupport() {
		if f.Name == string(dispatcher.Freplace) && !f.Supported {
			return f.Reason
		}
	}
	return ""
}

// libxdpComponent is one line of `xdp-loader status`: a program of
// libxdp's dispatcher, in the order it runs them.
type libxdpComponent struct {
	priority int
	name     string
	id       uint32
	actions  string
}

// libxdpStatus parses `xdp-loader status IFACE`: the dispatcher's
// components, in the order libxdp runs them.
func libxdpStatus(t *testing.T, f *fixture) []libxdpComponent {
	t.Helper()
	cmd := exec.Command("nsenter", "--net="+f.recv.Path, "xdp-loader", "status", f.iface())
	cmd.Env = append(os.Environ(), "LIBXDP_BPFFS="+f.bpffs)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, out)
	}
	t.Logf("xdp-loader status:\n%s", out)
	var comps []libxdpComponent
	for _, line := range strings.Split(string(out), "\n") {
		fs := strings.Fields(line)
		// " =>              50     counter                   52   <tag>  XDP_PASS"
		if len(fs) < 6 || fs[0] != "=>" {
			continue
		}
		prio, err1 := strconv.Atoi(fs[1])
		id, err2 := strconv.ParseUint(fs[3], 10, 32)
		if err1 != nil || err2 != nil {
			t.Fatalf("xdp-loader status line %q: %v %v", line, err1, err2)
		}
		comps = append(comps, libxdpComponent{priority: prio, name: fs[2], id: uint32(id), actions: fs[5]})
	}
	return comps
}

// TestAdoptLibxdp: two programs loaded by xdp-loader under libxdp's
// dispatcher (freplace components) on a veth, traffic passing; Adopt gives
// the interface an xdpchain root (freplace) whose chain is those very
// kernel programs in libxdp's order with its priorities and chain-call
// actions, the same verdicts on traffic, and libxdp's dispatcher off the
// hook. The datagrams that miss the port dropper during the hand-over at
// 10 000/s are counted and must have been sent while Adopt ran.
func TestAdoptLibxdp(t *testing.T) {
	vmtest.LogWhere(t)
	if reason := freplaceRefusal(); reason != "" {
		t.Skipf("libxdp's dispatcher needs freplace, which this kernel refuses (%s); TestAdoptLibxdpRefused covers this kernel", reason)
	}
	if _, err := exec.LookPath("xdp-loader"); err != nil {
		t.Skipf("xdp-loader is not installed (Debian: xdp-tools): %v", err)
	}
	f := newFixture(t, dispatcher.Freplace)
	dir := t.TempDir()
	var objs []string
	for _, name := range []string{testprogs.DropPort, testprogs.Counter} {
		obj, err := testprogs.WriteFile(dir, name)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, obj)
	}
	cmd := exec.Command("nsenter", append([]string{"--net=" + f.recv.Path, "xdp-loader", "load", "-m", "native", f.iface()}, objs...)...)
	cmd.Env = append(os.Environ(), "LIBXDP_BPFFS="+f.bpffs)
	if err := os.MkdirAll(filepath.Join(f.bpffs, "xdp"), 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, out)
	}
	x := xdpOf(t, f.recv, f.iface())
	disp, err := ebpf.NewProgramFromID(ebpf.ProgramID(x.ProgId))
	if err != nil {
		t.Fatal(err)
	}
	if info, err := disp.Info(); err != nil || info.Name != "xdp_dispatcher" {
		t.Fatalf("xdp-loader attached program %d (%v, %v), not libxdp's dispatcher", x.ProgId, info.Name, err)
	}
	disp.Close()
	comps := libxdpStatus(t, f)
	if len(comps) != 2 {
		t.Fatalf("xdp-loader status lists %d components, want 2", len(comps))
	}
	// Traffic as libxdp runs it.
	f.expectUDP(t, false, testprogs.DropPortDefault, 20, false)
	f.expectUDP(t, false, 7000, 20, true)

	r, ad := adoptMeasured(t, f, "libxdp's dispatcher")
	if ad.ID != x.ProgId || ad.KernelName != "xdp_dispatcher" {
		t.Errorf("adopted %+v, want libxdp's dispatcher %d", ad, x.ProgId)
	}

	st := status(t, r)
	if len(st.Programs) != len(comps) {
		t.Fatalf("chain after adopt: %+v, want libxdp's %+v", st.Programs, comps)
	}
	for i, c := range comps {
		p := st.Programs[i]
		wantActions := strings.ReplaceAll(strings.ToLower(c.actions), "xdp_", "")
		got := strings.Join(p.ProceedOn, ",")
		// Distinct priorities here (dropport's XDP_RUN_CONFIG says 10):
		// libxdp's, unchanged.
		if p.Name != c.name || p.Priority != c.priority || got != wantActions ||
			p.AdoptedID != c.id || p.Placement != dispatcher.PlacementFreplace {
			t.Errorf("slot %d: %s priority %d proceed-on %s adopting %d placed %s, want libxdp's %s priority %d actions %s program %d, freplace",
				i, p.Name, p.Priority, got, p.AdoptedID, p.Placement, c.name, c.priority, wantActions, c.id)
		}
	}
	if x2 := xdpOf(t, f.recv, f.iface()); x2.ProgId != st.DispatcherID || x2.ProgId == x.ProgId {
		t.Errorf("netlink reports program %d, want the root %d (libxdp's dispatcher %d off the hook)", x2.ProgId, st.DispatcherID, x.ProgId)
	}
	// The same verdicts, counted per component.
	byName := map[string]dispatcher.Stats{}
	for _, p := range st.Programs {
		byName[p.Name] = programStats(t, r, p.Name)
	}
	f.expectUDP(t, false, testprogs.DropPortDefault, 40, false)
	f.expectUDP(t, false, 7000, 30, true)
	var drops uint64
	for _, p := range st.Programs {
		s1 := programStats(t, r, p.Name)
		drops += s1.Drop - byName[p.Name].Drop
	}
	if drops != 40 {
		t.Errorf("the components counted drop +%d, want +40", drops)
	}
	// Only freplace runs adopted extensions.
	if _, err := r.Update(func(s *dispatcher.Spec) error { s.Mechanism = dispatcher.Linked; return nil }); err == nil || !strings.Contains(err.Error(), "adopted libxdp component") {
		t.Errorf("switching the adopted chain to linked: %v, want a refusal naming the adopted component", err)
	}
	f.expectUDP(t, false, testprogs.DropPortDefault, 10, false)
	// A component cannot be left attached by netlink alone.
	if _, err := r.Leave(st.Programs[0].Name); !errors.Is(err, dispatcher.ErrInvalid) {
		t.Errorf("leave of an adopted component: %v, want ErrInvalid", err)
	}
	f.expectUDP(t, false, 7000, 10, true)
}

// TestAdoptLibxdpRefused: where the kernel refuses freplace, adopting
// libxdp's dispatcher is refused with the kernel's reason and what to do,
// and the interface keeps its program.
func TestAdoptLibxdpRefused(t *testing.T) {
	vmtest.LogWhere(t)
	if reason := freplaceRefusal(); reason == "" {
		t.Skip("this kernel allows freplace: TestAdoptLibxdp adopts libxdp's dispatcher here")
	}
	if _, err := os.Stat(libxdpDispatcher); err != nil {
		t.Skipf("no libxdp dispatcher object here (%v): install xdp-tools", err)
	}
	f := newFixture(t, dispatcher.AutoMechanism)
	p := loadLibxdpDispatcher(t)
	if err := netlinkAttach(f.recv, f.iface(), p.FD(), nl.XDP_FLAGS_DRV_MODE); err != nil {
		t.Fatal(err)
	}
	defer netlinkAttach(f.recv, f.iface(), -1, nl.XDP_FLAGS_DRV_MODE)
	id := xdpOf(t, f.recv, f.iface()).ProgId
	_, _, err := dispatcher.Adopt(f.iface(), f.opts(), dispatcher.AdoptOptions{})
	if !errors.Is(err, dispatcher.ErrNotSupported) {
		t.Fatalf("adopt of libxdp's dispatcher: %v, want ErrNotSupported", err)
	}
	for _, want := range []string{"libxdp dispatcher", "EPERM", "load the components from their objects"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}
	for _, bad := range []string{"xdp-loader unload", "ip link set"} {
		if strings.Contains(err.Error(), bad) {
			t.Errorf("refusal %q advises %q", err, bad)
		}
	}
	t.Logf("refusal: %v", err)
	if x := xdpOf(t, f.recv, f.iface()); x.ProgId != id || x.AttachMode != nl.XDP_ATTACHED_DRV {
		t.Errorf("after the refusal netlink reports program %d mode %d, want %d native", x.ProgId, x.AttachMode, id)
	}
	if _, err := dispatcher.Open(f.iface(), f.opts()); !errors.Is(err, dispatcher.ErrNotAttached) {
		t.Errorf("after the refusal Open says %v, want ErrNotAttached", err)
	}
}
