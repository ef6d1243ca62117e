package deploy_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/sys/unix"

	"github.com/xdpchain/xdpchain/internal/testutil"
)

// The DaemonSet's pod, as much of it as podman runs: the fields the test
// translates into `podman run` flags. Decoding refuses any other field, so
// a setting added to daemonset.yaml fails this test until it is translated
// here (or said to be the kubelet's business, as probes and ports are).
type daemonSet struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string
	Metadata   yaml.Node
	Spec       struct {
		Selector       yaml.Node
		UpdateStrategy yaml.Node `yaml:"updateStrategy"`
		MinReady       int       `yaml:"minReadySeconds"`
		Template       struct {
			Metadata yaml.Node
			Spec     podSpec
		}
	}
}

type podSpec struct {
	ServiceAccountName           string    `yaml:"serviceAccountName"`
	AutomountServiceAccountToken bool      `yaml:"automountServiceAccountToken"`
	HostNetwork                  bool      `yaml:"hostNetwork"`
	DNSPolicy                    string    `yaml:"dnsPolicy"`
	PriorityClassName            string    `yaml:"priorityClassName"`
	Tolerations                  yaml.Node // scheduling: the kubelet's
	NodeSelector                 yaml.Node `yaml:"nodeSelector"`
	TerminationGracePeriod       int       `yaml:"terminationGracePeriodSeconds"`
	Containers                   []struct {
		Name            string
		Image           string
		ImagePullPolicy string `yaml:"imagePullPolicy"`
		Command         []string
		Args            []string
		Ports           yaml.Node // the metrics port: the test reaches it in the pod's network
		SecurityContext struct {
			Privileged   bool
			Capabilities struct {
				Drop []string
				Add  []string
			}
			ReadOnlyRootFilesystem bool `yaml:"readOnlyRootFilesystem"`
		} `yaml:"securityContext"`
		LivenessProbe  probe `yaml:"livenessProbe"`
		ReadinessProbe probe `yaml:"readinessProbe"`
		Resources      struct {
			Requests yaml.Node
			Limits   struct {
				Memory string
			}
		}
		VolumeMounts []struct {
			Name             string
			MountPath        string `yaml:"mountPath"`
			MountPropagation string `yaml:"mountPropagation"`
			ReadOnly         bool   `yaml:"readOnly"`
		} `yaml:"volumeMounts"`
	}
	Volumes []struct {
		Name     string
		HostPath *struct {
			Path string
			Type string
		} `yaml:"hostPath"`
		ConfigMap *struct {
			Name string
		} `yaml:"configMap"`
		EmptyDir *struct {
			Medium    string
			SizeLimit string `yaml:"sizeLimit"`
		} `yaml:"emptyDir"`
	}
}

type probe struct {
	HTTPGet struct {
		Path string
		Port string
	} `yaml:"httpGet"`
	PeriodSeconds    int `yaml:"periodSeconds"`
	TimeoutSeconds   int `yaml:"timeoutSeconds"`
	FailureThreshold int `yaml:"failureThreshold"`
}

type configMap struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string
	Metadata   struct {
		Name      string
		Namespace string
		Labels    yaml.Node
	}
	Data map[string]string
}

func decodeStrict(t *testing.T, path string, out any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(out); err != nil {
		t.Fatalf("%s: %v (a field the podman test does not translate: add it to deploy/podman_test.go)", path, err)
	}
}

// pod is the DaemonSet's pod template turned into `podman run` flags:
// hostPath volumes become the test's directories (hostPaths maps the
// manifest's path to the test's), the ConfigMap a directory laid out as
// the kubelet lays it out, hostNetwork the test's network namespace.
type pod struct {
	args  []string // podman run flags, before the image
	cargs []string // the container's arguments (after the image)
	grace int
}

func podFromManifests(t *testing.T, netnsPath string, hostPaths map[string]string, configDir string) (*pod, *configMap) {
	t.Helper()
	var ds daemonSet
	decodeStrict(t, filepath.Join(repoRoot(t), "deploy/kubernetes/daemonset.yaml"), &ds)
	var cm configMap
	decodeStrict(t, filepath.Join(repoRoot(t), "deploy/kubernetes/configmap.yaml"), &cm)
	spec := ds.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("the pod has %d containers; the test runs one", len(spec.Containers))
	}
	c := spec.Containers[0]
	if !spec.HostNetwork {
		t.Fatal("the pod is not on the host's network; the test gives it a network namespace as the node's")
	}
	if len(c.Command) > 0 {
		t.Fatalf("the container overrides the image's ENTRYPOINT with %q", c.Command)
	}
	p := &pod{grace: spec.TerminationGracePeriod, cargs: c.Args}
	p.args = append(p.args, rlimits(t)...)
	// The node's network: a namespace of the test's (so that nothing
	// else on the machine shares it, nor the metrics port).
	p.args = append(p.args, "--network=ns:"+netnsPath)
	if c.SecurityContext.Privileged {
		// Privileged wins over capabilities in Kubernetes too.
		p.args = append(p.args, "--privileged")
	} else {
		for _, d := range c.SecurityContext.Capabilities.Drop {
			p.args = append(p.args, "--cap-drop="+d)
		}
		for _, a := range c.SecurityContext.Capabilities.Add {
			p.args = append(p.args, "--cap-add="+a)
		}
	}
	if c.SecurityContext.ReadOnlyRootFilesystem {
		p.args = append(p.args, "--read-only")
	}
	if m := c.Resources.Limits.Memory; m != "" {
		p.args = append(p.args, "--memory="+strings.ToLower(strings.TrimSuffix(m, "i")))
	}
	for _, m := range c.VolumeMounts {
		found := false
		for _, v := range spec.Volumes {
			if v.Name != m.Name {
				continue
			}
			found = true
			opts := []string{}
			if m.ReadOnly {
				opts = append(opts, "ro")
			}
			switch m.MountPropagation {
			case "Bidirectional":
				opts = append(opts, "rshared")
			case "HostToContainer":
				opts = append(opts, "rslave")
			case "", "None":
			default:
				t.Fatalf("volume %s: mountPropagation %s", m.Name, m.MountPropagation)
			}
			suffix := ""
			if len(opts) > 0 {
				suffix = ":" + strings.Join(opts, ",")
			}
			switch {
			case v.HostPath != nil:
				src, ok := hostPaths[v.HostPath.Path]
				if !ok {
					t.Fatalf("hostPath %s: the test has no directory for it", v.HostPath.Path)
				}
				p.args = append(p.args, "--volume="+src+":"+m.MountPath+suffix)
			case v.ConfigMap != nil:
				if v.ConfigMap.Name != cm.Metadata.Name {
					t.Fatalf("volume %s: ConfigMap %s, not configmap.yaml's %s", v.Name, v.ConfigMap.Name, cm.Metadata.Name)
				}
				p.args = append(p.args, "--volume="+configDir+":"+m.MountPath+suffix)
			case v.EmptyDir != nil && v.EmptyDir.Medium == "Memory":
				size := strings.ToLower(strings.TrimSuffix(v.EmptyDir.SizeLimit, "i"))
				p.args = append(p.args, "--tmpfs="+m.MountPath+":size="+size)
			default:
				t.Fatalf("volume %s: a kind the test does not translate", v.Name)
			}
		}
		if !found {
			t.Fatalf("volumeMount %s: no such volume", m.Name)
		}
	}
	return p, &cm
}

// configMapDir lays out a ConfigMap volume as the kubelet does: the files
// in a timestamped directory, ..data a symbolic link to it, each key a
// link through ..data. swap replaces the content by a new directory and an
// atomic rename of ..data, as the kubelet does on an update.
type configMapDir struct {
	dir string
	seq int
}

func (c *configMapDir) swap(t *testing.T, data map[string]string) {
	t.Helper()
	c.seq++
	ts := fmt.Sprintf("..2026_12_07_00_00_%02d.%d", c.seq, c.seq)
	if err := os.Mkdir(filepath.Join(c.dir, ts), 0o755); err != nil {
		t.Fatal(err)
	}
	for k, v := range data {
		if err := os.WriteFile(filepath.Join(c.dir, ts, k), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(c.dir, k)
		if _, err := os.Lstat(link); os.IsNotExist(err) {
			if err := os.Symlink(filepath.Join("..data", k), link); err != nil {
				t.Fatal(err)
			}
		}
	}
	tmp := filepath.Join(c.dir, "..data_tmp")
	if err := os.Symlink(ts, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(c.dir, "..data")); err != nil {
		t.Fatal(err)
	}
}

// podmanImage returns the name of a local image, made by make when podman
// does not have it yet (cached between runs by podman's storage).
func podmanImage(t *testing.T, name string, make func(name string)) string {
	t.Helper()
	if exec.Command("podman", "image", "exists", name).Run() == nil {
		return name
	}
	make(name)
	return name
}

// baseImages returns a Debian base image (the cached rootfs, imported) and
// a Go toolchain image (that base with this machine's Go): the Dockerfile's
// BASE_IMAGE and GO_IMAGE, without Docker Hub.
func baseImages(t *testing.T) (base, goImage string) {
	t.Helper()
	rootfs := debianRootfs(t)
	key := fmt.Sprintf("%x", sha256.Sum256([]byte(rootfs)))[:12]
	base = podmanImage(t, "localhost/xdpchain-deploy/debian:"+suite+"-"+key, func(name string) {
		t.Logf("importing %s as %s (cached by podman)", rootfs, name)
		cmd := exec.Command("sh", "-c", `tar -C "$1" --exclude=./.complete -c . | podman import - "$2"`, "sh", rootfs, name)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("podman import: %v\n%s", err, out)
		}
	})
	goroot := strings.TrimSpace(run(t, "go", "env", "GOROOT"))
	gover := strings.TrimSpace(run(t, "go", "env", "GOVERSION"))
	// The machine's CA bundle: module downloads go where this machine's
	// go goes, through whatever proxy it trusts.
	const caBundle = "/etc/ssl/certs/ca-certificates.crt"
	ca, err := os.ReadFile(caBundle)
	if err != nil {
		t.Fatalf("the machine's CA bundle: %v", err)
	}
	goKey := fmt.Sprintf("%x", sha256.Sum256(append([]byte(key+goroot), ca...)))[:12]
	goImage = podmanImage(t, "localhost/xdpchain-deploy/go:"+gover+"-"+goKey, func(name string) {
		t.Logf("making %s from %s, %s and %s (cached by podman)", name, base, goroot, caBundle)
		ctr := strings.TrimSpace(run(t, "buildah", "from", base))
		defer exec.Command("buildah", "rm", ctr).Run()
		run(t, "buildah", "copy", ctr, goroot, "/usr/local/go")
		run(t, "buildah", "copy", ctr, caBundle, caBundle)
		run(t, "buildah", "config", "--env", "PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", ctr)
		run(t, "buildah", "commit", "--quiet", ctr, name)
	})
	return base, goImage
}

// TestPodmanDaemonSet builds the image from the Dockerfile with podman, from
// local base images, and runs the DaemonSet's pod template (decoded from
// deploy/kubernetes/daemonset.yaml) with podman: the same mounts (the
// node's directories being the test's), privileges and read-only root, on
// a network namespace of its own holding eth0. It checks that PID 1 is the
// daemon, the ConfigMap's chain is on eth0, /healthz and /readyz answer,
// a ..data swap of the ConfigMap reloads, a rolling upgrade (pod 1 stopped,
// pod 2 started from a newer tag) adopts the root with no datagram lost at
// 5000/s or more, and SIGTERM leaves the chain and exits 0 within the
// grace period.
func TestPodmanDaemonSet(t *testing.T) {
	requireRuntime(t, "podman", "buildah", "debootstrap", "tar")
	base, goImage := baseImages(t)

	// The README's Kubernetes quickstart, with the bases named. Without
	// intermediate images (they would pile up run after run); the
	// Dockerfile's cache mounts keep the modules and compiled packages.
	tag := fmt.Sprintf("localhost/xdpchain:podman-test-%d", os.Getpid())
	build := exec.Command("podman", podmanGlobal(t, "build", "-f", "deploy/kubernetes/Dockerfile",
		"--build-arg", "GO_IMAGE="+goImage, "--build-arg", "BASE_IMAGE="+base,
		"--build-arg", "VERSION=0.0.0-podman", "--layers=false", "-t", tag+"-1", ".")...)
	build.Dir = repoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("podman build: %v\n%s", err, tail(out, 40))
	}
	t.Cleanup(func() { exec.Command("podman", "rmi", "-f", tag+"-1", tag+"-2").Run() })
	run(t, "podman", "tag", tag+"-1", tag+"-2")

	// The node: its network namespace with eth0, a client beyond it.
	node := testutil.NewNetNSPrefix(t, "dep-node-")
	client := testutil.NewNetNSPrefix(t, "dep-cli-")
	pair := testutil.NewVethPair(t, node, client, &testutil.VethOptions{
		NameA: "eth0", NameB: "eth1",
		IPv4A: netip.MustParsePrefix("10.98.7.1/24"), IPv4B: netip.MustParsePrefix("10.98.7.2/24"),
		IPv6A: netip.MustParsePrefix("2001:db8:98:7::1/64"), IPv6B: netip.MustParsePrefix("2001:db8:98:7::2/64"),
	})
	bpffs := testutil.PrivateBPFFS(t)
	// Bidirectional propagation wants a shared mount.
	if err := unix.Mount("", bpffs, "", unix.MS_SHARED, ""); err != nil {
		t.Fatalf("making the bpffs shared: %v", err)
	}
	dir := t.TempDir()
	state, netnsDir, cfgDir := filepath.Join(dir, "run-xdpchain"), filepath.Join(dir, "run-netns"), filepath.Join(dir, "config")
	for _, d := range []string{state, netnsDir, cfgDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p, cm := podFromManifests(t, "/run/netns/"+node.Name, map[string]string{
		"/sys/fs/bpf": bpffs, "/run/xdpchain": state, "/run/netns": netnsDir,
	}, cfgDir)
	cfg := &configMapDir{dir: cfgDir}
	cfg.swap(t, cm.Data)

	var pods []string
	start := func(n int) string {
		t.Helper()
		name := fmt.Sprintf("dep-xdpchain-%d-%d", os.Getpid(), n)
		args := append([]string{"run", "-d", "--name", name}, p.args...)
		args = append(append(args, fmt.Sprintf("%s-%d", tag, n)), p.cargs...)
		run(t, "podman", podmanGlobal(t, args...)...)
		pods = append(pods, name)
		return name
	}
	t.Cleanup(func() {
		for _, name := range pods {
			if t.Failed() {
				out, _ := exec.Command("podman", "logs", name).CombinedOutput()
				t.Logf("podman logs %s:\n%s", name, tail(out, 60))
			}
			exec.Command("podman", "rm", "-f", "-t", "0", name).Run()
		}
	})
	get := func(path string) (int, string) {
		var code int
		var body string
		err := node.Do(func() error {
			var err error
			code, body, err = httpGet("127.0.0.1:9464", path)
			return err
		})
		if err != nil {
			return 0, err.Error()
		}
		return code, body
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(2 * time.Minute); !cond(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timeout waiting for %s", what)
			}
		}
	}
	status := func(pod string) string {
		out, _ := exec.Command("podman", "exec", pod, "/usr/bin/xdpchain", "status", "eth0").CombinedOutput()
		return string(out)
	}

	pod1 := start(1)
	waitFor("/readyz of pod 1", func() bool { code, _ := get("/readyz"); return code == 200 })
	if code, body := get("/healthz"); code != 200 {
		t.Errorf("/healthz: %d %s", code, body)
	}
	pid1 := strings.TrimSpace(run(t, "podman", "inspect", "--format", "{{.State.Pid}}", pod1))
	cmdline, _ := os.ReadFile("/proc/" + pid1 + "/cmdline")
	if args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00"); args[0] != "/usr/bin/xdpchain" || args[1] != "run" {
		t.Errorf("PID 1 of the pod is %q, want the daemon", args)
	}
	if out := status(pod1); !strings.Contains(out, "config:blocklist") && !strings.Contains(out, "plugin:blocklist") {
		t.Fatalf("the ConfigMap's chain is not on eth0:\n%s", out)
	}

	// A ..data swap (kubectl apply of an edited ConfigMap) reloads.
	data := map[string]string{}
	for k, v := range cm.Data {
		data[k] = v + "\n[[program]]\nname = \"counter\"\nobject = \"/usr/share/xdpchain/examples/counter.o\"\ninterfaces = [\"eth*\"]\npriority = 20\n"
	}
	cfg.swap(t, data)
	waitFor("the ..data swap's reload", func() bool { return strings.Contains(status(pod1), "counter") })

	// A rolling upgrade under traffic: pod 1 goes, pod 2 (a newer tag)
	// comes; not one datagram is lost.
	recv := testutil.ListenUDP(t, node, netip.AddrPortFrom(pair.A.Addr4(), 7799))
	flow := testutil.StartPacedUDP(t, client, 10000, recv.Addr())
	flow.WaitSent(t, 5000)
	run(t, "podman", "stop", "-t", strconv.Itoa(p.grace), pod1)
	pod2 := start(2)
	waitFor("/readyz of pod 2", func() bool { code, _ := get("/readyz"); return code == 200 })
	flow.WaitSent(t, flow.Sent()+5000)
	sent, elapsed := flow.Stop(t)
	got := int64(recv.WaitFor(int(sent), time.Minute))
	rate := float64(sent) / elapsed.Seconds()
	t.Logf("rolling upgrade: %d of %d datagrams arrived, %.0f/s over %v (CPU %s)", got, sent, rate, elapsed.Round(time.Millisecond), cpuModel())
	if got != sent {
		t.Errorf("rolling upgrade lost %d of %d datagrams", sent-got, sent)
	}
	if rate < 5000 {
		t.Errorf("the flow ran at %.0f/s, want at least 5000", rate)
	}
	if out := status(pod2); !strings.Contains(out, "counter") || !strings.Contains(out, "blocklist") {
		t.Errorf("pod 2 does not have the chain:\n%s", out)
	}

	// SIGTERM to PID 1: exits 0 within the grace period; the chain stays.
	begin := time.Now()
	run(t, "podman", "stop", "-t", strconv.Itoa(p.grace), pod2)
	took := time.Since(begin)
	if code := strings.TrimSpace(run(t, "podman", "inspect", "--format", "{{.State.ExitCode}}", pod2)); code != "0" {
		t.Errorf("the daemon exited with %s on SIGTERM, want 0", code)
	}
	t.Logf("podman stop took %v (grace period %ds)", took.Round(time.Millisecond), p.grace)
	bin := testutil.XDPChainBinary(t)
	out, _, err := testutil.RunXDPChain(t, bin, "--no-daemon", "--bpffs", bpffs, "--state-dir", state, "status", "--netns", node.Name, "eth0")
	if err != nil || !strings.Contains(out, "counter") || !strings.Contains(out, "blocklist") {
		t.Errorf("after SIGTERM the chain should stay: %v\n%s", err, out)
	}
}

// rlimits are podman run's --ulimit flags where podman's defaults cannot
// be set: podman raises the open-files and processes limits of the
// container (the kubelet leaves rlimits to the runtime), which takes
// CAP_SYS_RESOURCE beyond the hard limits; a machine whose bounding set
// lacks it (the project's CI sandbox) refuses with "error setting rlimits
// for ready process". There the container gets this process's open-files
// limit and at most 32768 processes (what podman's own processes get).
func rlimits(t *testing.T) []string {
	t.Helper()
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
				if bnd, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64); err == nil && bnd&(1<<unix.CAP_SYS_RESOURCE) != 0 {
					return nil
				}
			}
		}
	}
	var nofile, nproc unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &nofile); err != nil {
		t.Fatal(err)
	}
	if err := unix.Getrlimit(unix.RLIMIT_NPROC, &nproc); err != nil {
		t.Fatal(err)
	}
	procs := min(nproc.Cur, 32768)
	return []string{fmt.Sprintf("--ulimit=nofile=%d:%d", nofile.Cur, nofile.Cur), fmt.Sprintf("--ulimit=nproc=%d:%d", procs, procs)}
}

// podmanGlobal puts podman's global options before args: on a machine
// whose cgroups are hybrid (v1 controllers, a v2 hierarchy beside them)
// crun, Debian's default runtime, refuses to create containers ("cgroups
// in hybrid mode not supported"), and runc is used.
func podmanGlobal(t *testing.T, args ...string) []string {
	t.Helper()
	if _, err := os.Stat("/sys/fs/cgroup/unified"); err != nil {
		return args
	}
	if _, err := exec.LookPath("runc"); err != nil {
		t.Fatalf("the cgroups here are hybrid, which crun refuses, and there is no runc (.ci/run installs it)")
	}
	return append([]string{"--runtime", "runc"}, args...)
}

// httpGet sends one HTTP/1.0 GET on a connection made on the calling
// thread (in its network namespace) and returns the status and body.
func httpGet(addr, path string) (int, string, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", path, addr)
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		return 0, "", err
	}
	f := strings.Fields(line)
	if len(f) < 2 {
		return 0, "", fmt.Errorf("status line %q", line)
	}
	code, _ := strconv.Atoi(f[1])
	var body bytes.Buffer
	body.ReadFrom(r)
	return code, body.String(), nil
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":")) + fmt.Sprintf(", %d CPUs", runtime.NumCPU())
		}
	}
	return runtime.GOARCH
}
