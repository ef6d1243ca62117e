package deploy_test

import (
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/xdpchain/xdpchain/internal/testutil"
)

// nspawnFlags are the flags docs/operations.md gives for running the .deb's
// daemon in a container booted with systemd-nspawn (what each is for is
// said there), besides -b, -D and --machine. The test adds its private
// bpffs (--bind) and, with no systemd on the machine that runs it,
// --register=no.
var nspawnFlags = []string{
	"--keep-unit",                      // no scope unit of its own (runs in the caller's)
	"--system-call-filter=bpf",         // nspawn's default seccomp filter refuses bpf()
	"--capability=CAP_BPF,CAP_PERFMON", // the unit's set; nspawn's default lacks these two
	"--network-veth",                   // a network namespace with a veth (host0) inside
	"--console=read-only",              // the boot's console on nspawn's output
}

// container is a Debian rootfs booted with systemd-nspawn.
type container struct {
	t       *testing.T
	root    string // the container's / (an overlay on the cached rootfs)
	machine string
	args    []string
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	log     *testutil.Buffer
}

// boot starts systemd-nspawn and waits until the container's systemd has
// finished booting.
func (c *container) boot() {
	t := c.t
	t.Helper()
	c.cmd = exec.Command("systemd-nspawn", c.args...)
	c.cmd.Stdout, c.cmd.Stderr = c.log, c.log
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("systemd-nspawn: %v", err)
	}
	c.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) {
		c.waitErr = cmd.Wait()
		close(exited)
	}(c.cmd, c.exited)
	// The container's systemd answers once its manager runs (before that
	// systemctl fails to connect); --wait then waits for the boot to end.
	var state string
	c.waitFor("the container's boot", 3*time.Minute, func() bool {
		out, _ := c.execErr("systemctl", "is-system-running", "--wait")
		state = strings.TrimSpace(out)
		return state == "running" || state == "degraded"
	})
	if state == "degraded" {
		failed, _ := c.execErr("systemctl", "--failed", "--no-pager")
		t.Logf("the container booted degraded:\n%s", failed)
	}
}

// waitFor polls cond until it holds; the container exiting or the deadline
// fails the test.
func (c *container) waitFor(what string, within time.Duration, cond func() bool) {
	c.t.Helper()
	for deadline := time.Now().Add(within); !cond(); time.Sleep(100 * time.Millisecond) {
		select {
		case <-c.exited:
			c.t.Fatalf("systemd-nspawn exited (%v) while waiting for %s:\n%s", c.waitErr, what, tail([]byte(c.log.String()), 40))
		default:
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("timeout waiting for %s:\n%s", what, tail([]byte(c.log.String()), 40))
		}
	}
}

// leader is the host PID of the container's PID 1 (a child of nspawn whose
// command is systemd), or 0.
func (c *container) leader() int {
	if c.cmd == nil || c.cmd.Process == nil {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", c.cmd.Process.Pid, c.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, f := range strings.Fields(string(b)) {
		pid, _ := strconv.Atoi(f)
		if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.TrimSpace(string(comm)) == "systemd" {
			return pid
		}
	}
	return 0
}

// execErr runs a command inside the container (all its namespaces, its
// root) and returns its output.
func (c *container) execErr(name string, args ...string) (string, error) {
	pid := c.leader()
	if pid == 0 {
		return "", fmt.Errorf("no container leader yet")
	}
	cmd := exec.Command("nsenter", append([]string{"-t", strconv.Itoa(pid), "-a", "-r", "-w", "--", "/usr/bin/env", "-i",
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "DEBIAN_FRONTEND=noninteractive", "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0", name}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s in the container: %w", name, strings.Join(args, " "), err)
	}
	return string(out), nil
}

func (c *container) exec(name string, args ...string) string {
	c.t.Helper()
	out, err := c.execErr(name, args...)
	if err != nil {
		c.t.Fatalf("%v\n%s", err, out)
	}
	return out
}

// stop asks the container to shut down (or reboot) and waits for nspawn
// to exit.
func (c *container) stop(verb string) {
	c.t.Helper()
	// systemctl returns as the shutdown starts (or is cut off by it).
	c.execErr("systemctl", "--no-block", verb)
	select {
	case <-c.exited:
	case <-time.After(2 * time.Minute):
		c.t.Fatalf("the container did not %s:\n%s", verb, tail([]byte(c.log.String()), 40))
	}
}

// kill ends nspawn and what it started, for the test's cleanup.
func (c *container) kill() {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	select {
	case <-c.exited:
		return
	default:
	}
	c.execErr("systemctl", "--no-block", "poweroff")
	select {
	case <-c.exited:
	case <-time.After(time.Minute):
		syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		<-c.exited
	}
}

// newContainer prepares a container on the cached rootfs: an overlay whose
// upper layer is the test's, so that the cache stays as it is.
func newContainer(t *testing.T, bpffs string) *container {
	t.Helper()
	lower := debianRootfs(t)
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	for _, d := range []string{"upper", "work", "root"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s/upper,workdir=%s/work", lower, dir, dir)
	if err := unix.Mount("overlay", root, "overlay", 0, opts); err != nil {
		t.Fatalf("mounting an overlay on the rootfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(root, unix.MNT_DETACH) })
	var rnd [3]byte
	rand.Read(rnd[:])
	// ve-<machine> on the host: the helper's prefix, at most 15 bytes.
	machine := fmt.Sprintf("dep%x", rnd)
	c := &container{t: t, root: root, machine: machine, log: &testutil.Buffer{}}
	c.args = append([]string{"-b", "-D", root, "--machine=" + machine, "--register=no",
		"--bind=" + bpffs + ":/sys/fs/bpf"}, nspawnFlags...)
	t.Cleanup(func() {
		c.kill()
		if t.Failed() {
			t.Logf("systemd-nspawn's output:\n%s", tail([]byte(c.log.String()), 80))
		}
	})
	return c
}

// TestNspawnSystemd installs the .deb in a Debian 12 container booted with
// systemd-nspawn and runs it as an operator would, under the container's
// systemd: the shipped config (its examples uncommented, naming the
// container's veth) comes up with `systemctl enable --now`; `systemctl
// reload` returns once the change is in `xdpchain status`, and fails with
// the reason for a broken config; after a reboot the chain is back before
// network-pre.target; `systemctl stop` and `apt remove` leave the chain;
// `apt purge` removes the config and leaves the chain.
func TestNspawnSystemd(t *testing.T) {
	requireRuntime(t, "systemd-nspawn", "nsenter", "debootstrap", "dpkg-deb", "make")
	deb := buildDeb(t)
	bpffs := testutil.PrivateBPFFS(t)
	c := newContainer(t, bpffs)
	if err := exec.Command("cp", deb, filepath.Join(c.root, "root/xdpchain.deb")).Run(); err != nil {
		t.Fatal(err)
	}
	c.boot()

	// The README's systemd quickstart, as root.
	c.exec("apt-get", "install", "-y", "-q", "/root/xdpchain.deb")
	conf := filepath.Join(c.root, "etc/xdpchain/config.toml")
	shipped, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	write := func(src string) {
		t.Helper()
		if err := os.WriteFile(conf, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := enableExamples(t, string(shipped), "host0")
	write(cfg)
	c.exec("xdpchain", "run", "--check", "--config", "/etc/xdpchain/config.toml")
	c.exec("systemctl", "enable", "--now", "xdpchain")
	if s, _ := c.execErr("systemctl", "is-active", "xdpchain"); strings.TrimSpace(s) != "active" {
		t.Fatalf("after enable --now: %s\n%s", s, c.exec("systemctl", "status", "xdpchain"))
	}
	chainIs := func(when string, want ...string) {
		t.Helper()
		out := c.exec("xdpchain", "status", "host0")
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: xdpchain status host0 does not show %s:\n%s", when, w, out)
			}
		}
	}
	chainIs("after enable --now", "config:dropport")

	// systemctl reload returns once the change is applied...
	write(cfg + "\n[[program]]\nname = \"counter\"\nobject = \"/usr/share/xdpchain/examples/counter.o\"\ninterfaces = [\"host0\"]\npriority = 20\n")
	c.exec("systemctl", "reload", "xdpchain")
	chainIs("when systemctl reload returned", "config:dropport", "config:counter")
	// ... and fails, saying why, when the daemon refuses the file.
	good, _ := os.ReadFile(conf)
	write(string(good) + "bogus = 1\n")
	if out, err := c.execErr("systemctl", "reload", "xdpchain"); err == nil {
		t.Errorf("systemctl reload of a broken config succeeded:\n%s", out)
	}
	status, _ := c.execErr("systemctl", "status", "--no-pager", "-n", "20", "xdpchain")
	if !strings.Contains(status, "bogus: unknown key") {
		t.Errorf("systemctl status after a refused reload does not say why:\n%s", status)
	}
	if s, _ := c.execErr("systemctl", "is-active", "xdpchain"); strings.TrimSpace(s) != "active" {
		t.Errorf("after a refused reload the unit is %q, want active", s)
	}
	chainIs("after a refused reload", "dropport", "counter")
	write(string(good))
	c.exec("systemctl", "reload", "xdpchain")

	// A reboot: the veth is new, the daemon attaches the chain before
	// network-pre.target.
	c.stop("reboot")
	c.boot()
	chainIs("after a reboot", "dropport", "counter")
	journal := c.exec("journalctl", "-b", "-o", "short-monotonic", "--no-pager")
	started := regexp.MustCompile(`.*Started xdpchain\.service.*`).FindStringIndex(journal)
	reached := regexp.MustCompile(`.*Reached target network-pre\.target.*`).FindStringIndex(journal)
	switch {
	case started == nil || reached == nil:
		t.Errorf("the boot's journal lacks %q or %q:\n%s", "Started xdpchain.service", "Reached target network-pre.target", journal)
	case started[0] > reached[0]:
		t.Errorf("xdpchain started after network-pre.target:\n%s", journal)
	default:
		t.Logf("after the reboot:\n%s\n%s", journal[started[0]:started[1]], journal[reached[0]:reached[1]])
	}

	// The daemon stops; the chain stays (networking policy survives it).
	c.exec("systemctl", "stop", "xdpchain")
	attached := func(when string) {
		t.Helper()
		out := c.exec("ip", "-d", "link", "show", "host0")
		if !strings.Contains(out, "xdp") {
			t.Errorf("%s: host0 has no XDP program:\n%s", when, out)
		}
		out = c.exec("xdpchain", "status", "host0")
		if !strings.Contains(out, "dropport") || !strings.Contains(out, "counter") {
			t.Errorf("%s: the chain is gone:\n%s", when, out)
		}
	}
	attached("after systemctl stop")
	c.exec("apt-get", "remove", "-y", "-q", "xdpchain")
	if out := c.exec("ip", "-d", "link", "show", "host0"); !strings.Contains(out, "xdp") {
		t.Errorf("after apt remove: host0 has no XDP program:\n%s", out)
	}
	if _, err := os.Stat(conf); err != nil {
		t.Errorf("apt remove removed the config: %v", err)
	}
	// Purge removes the config (a conffile) and leaves the chain: what
	// docs/operations.md says.
	c.exec("apt-get", "purge", "-y", "-q", "xdpchain")
	if _, err := os.Stat(conf); !os.IsNotExist(err) {
		t.Errorf("after apt purge /etc/xdpchain/config.toml: %v, want it gone", err)
	}
	if out := c.exec("ip", "-d", "link", "show", "host0"); !strings.Contains(out, "xdp") {
		t.Errorf("after apt purge: host0 has no XDP program:\n%s", out)
	}
	if left := testutil.Tree(t, bpffs); len(left) <= 2 {
		t.Errorf("after apt purge the pins are gone: %v", left)
	}
	c.stop("poweroff")
}

// enableExamples uncomments the shipped config's [[interface]] and
// [[program]] examples, on iface.
func enableExamples(t *testing.T, shipped, iface string) string {
	t.Helper()
	var out []string
	in := false
	for _, line := range strings.Split(shipped, "\n") {
		switch {
		case line == "# [[interface]]" || line == "# [[program]]":
			in = true
		case !strings.HasPrefix(line, "# ") || strings.HasPrefix(line, "# [[") || strings.HasPrefix(line, "# ["):
			in = false
		}
		if in {
			line = strings.Replace(strings.TrimPrefix(line, "# "), `"eth0"`, strconv.Quote(iface), 1)
		}
		out = append(out, line)
	}
	cfg := strings.Join(out, "\n")
	if !strings.Contains(cfg, "\n[[interface]]\n") || !strings.Contains(cfg, "\n[[program]]\n") || !strings.Contains(cfg, "dropport.o") {
		t.Fatalf("the shipped config's examples changed; uncommented:\n%s", cfg)
	}
	return cfg
}
