package kubernetes_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/api/krusty"
	kusttypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

const (
	namespace = "xdpchain"
	// imageRoot is where the Dockerfile installs the plugins; the
	// ConfigMap's commands name them there.
	imageRoot = "/usr/libexec/xdpchain/"
)

// strict decodes one YAML document into out, refusing fields out's type
// does not have (a misspelt or misplaced key) and duplicate keys.
func strict(doc []byte, out any) error {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("more than one object")
	}
	return nil
}

// manifests is the kustomization's output, decoded.
type manifests struct {
	namespaces      []*corev1.Namespace
	serviceAccounts []*corev1.ServiceAccount
	resourceQuotas  []*corev1.ResourceQuota
	configMaps      []*corev1.ConfigMap
	daemonSets      []*appsv1.DaemonSet
}

// kinds are the resources the kustomization may hold: kind to the
// apiVersion it must have and the type its documents decode into.
var kinds = map[string]struct {
	apiVersion string
	add        func(m *manifests, doc []byte) error
}{
	"Namespace": {"v1", func(m *manifests, doc []byte) error {
		o := new(corev1.Namespace)
		m.namespaces = append(m.namespaces, o)
		return strict(doc, o)
	}},
	"ServiceAccount": {"v1", func(m *manifests, doc []byte) error {
		o := new(corev1.ServiceAccount)
		m.serviceAccounts = append(m.serviceAccounts, o)
		return strict(doc, o)
	}},
	"ResourceQuota": {"v1", func(m *manifests, doc []byte) error {
		o := new(corev1.ResourceQuota)
		m.resourceQuotas = append(m.resourceQuotas, o)
		return strict(doc, o)
	}},
	"ConfigMap": {"v1", func(m *manifests, doc []byte) error {
		o := new(corev1.ConfigMap)
		m.configMaps = append(m.configMaps, o)
		return strict(doc, o)
	}},
	"DaemonSet": {"apps/v1", func(m *manifests, doc []byte) error {
		o := new(appsv1.DaemonSet)
		m.daemonSets = append(m.daemonSets, o)
		return strict(doc, o)
	}},
}

// decode adds one resource to m by its kind, and returns its namespace.
func (m *manifests) decode(name string, doc []byte) (ns string, err error) {
	var tm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	k, ok := kinds[tm.Kind]
	if !ok {
		return "", fmt.Errorf("%s: kind %q: the test knows no such resource (add it to kinds)", name, tm.Kind)
	}
	if tm.APIVersion != k.apiVersion {
		return "", fmt.Errorf("%s: %s with apiVersion %q, want %q", name, tm.Kind, tm.APIVersion, k.apiVersion)
	}
	if err := k.add(m, doc); err != nil {
		return "", fmt.Errorf("%s: %s %s: %w", name, tm.Kind, tm.Metadata.Name, err)
	}
	return tm.Metadata.Namespace, nil
}

// build runs kustomize (its library, as `kubectl apply -k` does) on this
// directory and decodes what it makes.
func build(t *testing.T) *manifests {
	t.Helper()
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), ".")
	if err != nil {
		t.Fatalf("kustomize build: %v", err)
	}
	m := new(manifests)
	for _, r := range res.Resources() {
		doc, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.decode("kustomize build", doc); err != nil {
			t.Error(err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return m
}

// TestFilesDecodeStrictly decodes kustomization.yaml into kustomize's type
// and every file it lists into the Kubernetes type of its kind, strictly,
// each on its own (so an error names the file), and checks that every
// manifest here is listed.
func TestFilesDecodeStrictly(t *testing.T) {
	src, err := os.ReadFile("kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k kusttypes.Kustomization
	if err := strict(src, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	if k.Namespace != namespace {
		t.Errorf("kustomization.yaml: namespace %q, want %q", k.Namespace, namespace)
	}
	if len(k.ConfigMapGenerator) > 0 {
		t.Errorf("kustomization.yaml: a configMapGenerator names the ConfigMap by a hash of its content, so each edit would roll the DaemonSet; the daemon reloads the plain ConfigMap itself")
	}
	files, _ := filepath.Glob("*.yaml")
	for _, f := range files {
		if f != "kustomization.yaml" && !slices.Contains(k.Resources, f) {
			t.Errorf("%s is not among the kustomization's resources", f)
		}
	}
	for _, f := range k.Resources {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Error(err)
			continue
		}
		m := new(manifests)
		for i, doc := range bytes.Split(src, []byte("\n---\n")) {
			if len(bytes.TrimSpace(doc)) == 0 {
				continue
			}
			where := fmt.Sprintf("%s (document %d)", f, i+1)
			before := len(m.namespaces) // cluster-scoped
			ns, err := m.decode(where, doc)
			if err != nil {
				t.Error(err)
			}
			// As the kustomization sets it, so that `kubectl apply -f`
			// of one file puts it in the same place.
			if err == nil && len(m.namespaces) == before && ns != namespace {
				t.Errorf("%s: namespace %q, want %q", where, ns, namespace)
			}
		}
	}
}

// daemonConfig is what the test reads of the ConfigMap's config.toml;
// config.Load (through `run --check`) checks all of it.
type daemonConfig struct {
	Daemon struct {
		BPFFS    string `toml:"bpffs"`
		StateDir string `toml:"state_dir"`
		Socket   string `toml:"socket"`
		Metrics  string `toml:"metrics"`
	} `toml:"daemon"`
	Interfaces []struct {
		Name  string `toml:"name"`
		NetNS string `toml:"netns"`
	} `toml:"interface"`
	Plugins []struct {
		Name    string `toml:"name"`
		Command string `toml:"command"`
	} `toml:"plugin"`
	Programs []struct {
		Name   string `toml:"name"`
		Object string `toml:"object"`
	} `toml:"program"`
}

// config returns the ConfigMap, the file name (key) of the config in it,
// its text, and what the test reads of it, with the daemon's defaults
// (config/sections.go) for keys it leaves out.
func config(t *testing.T, m *manifests, ds *appsv1.DaemonSet) (cm *corev1.ConfigMap, key, text string, cfg daemonConfig) {
	t.Helper()
	if len(m.configMaps) != 1 {
		t.Fatalf("%d ConfigMaps, want 1", len(m.configMaps))
	}
	cm = m.configMaps[0]
	c := ds.Spec.Template.Spec.Containers[0]
	file := flag(c.Args, "--config")
	if file == "" {
		t.Fatalf("container args %q: no --config FILE", c.Args)
	}
	mnt := mountOf(c, file)
	vol := volume(ds, mnt.Name)
	if vol == nil || vol.ConfigMap == nil || vol.ConfigMap.Name != cm.Name {
		t.Fatalf("--config %s is not in a volume of ConfigMap %s", file, cm.Name)
	}
	if mnt.SubPath != "" || mnt.SubPathExpr != "" {
		t.Errorf("the config is mounted with a subPath: the kubelet never updates those, so a ConfigMap edit would not reach the daemon")
	}
	if !mnt.ReadOnly {
		t.Errorf("the config volume is not mounted readOnly")
	}
	rel, _ := filepath.Rel(mnt.MountPath, file)
	key = rel
	if len(vol.ConfigMap.Items) > 0 {
		t.Errorf("the config volume picks items; mount the whole ConfigMap")
	}
	text, ok := cm.Data[key]
	if !ok {
		t.Fatalf("--config %s: ConfigMap %s has no key %q (it has %v)", file, cm.Name, key, keys(cm.Data))
	}
	md, err := toml.Decode(text, &cfg)
	if err != nil {
		t.Fatalf("ConfigMap %s, %s: %v", cm.Name, key, err)
	}
	_ = md // unknown keys are config.Load's to refuse (TestConfigMapPassesCheck)
	if cfg.Daemon.BPFFS == "" {
		cfg.Daemon.BPFFS = "/sys/fs/bpf"
	}
	if cfg.Daemon.StateDir == "" {
		cfg.Daemon.StateDir = "/run/xdpchain"
	}
	if cfg.Daemon.Socket == "" {
		cfg.Daemon.Socket = "/run/xdpchain/xdpchain.sock"
	}
	return cm, key, text, cfg
}

func keys(m map[string]string) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	slices.Sort(k)
	return k
}

// flag returns the value of --name VALUE or --name=VALUE in args.
func flag(args []string, name string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}

// mountOf returns the volume mount that holds path inside the container
// (the deepest one); a zero mount when none does.
func mountOf(c corev1.Container, p string) corev1.VolumeMount {
	var best corev1.VolumeMount
	for _, m := range c.VolumeMounts {
		if (p == m.MountPath || strings.HasPrefix(p, strings.TrimSuffix(m.MountPath, "/")+"/")) && len(m.MountPath) > len(best.MountPath) {
			best = m
		}
	}
	return best
}

func volume(ds *appsv1.DaemonSet, name string) *corev1.Volume {
	for i, v := range ds.Spec.Template.Spec.Volumes {
		if v.Name == name {
			return &ds.Spec.Template.Spec.Volumes[i]
		}
	}
	return nil
}

func daemonSet(t *testing.T, m *manifests) *appsv1.DaemonSet {
	t.Helper()
	if len(m.daemonSets) != 1 {
		t.Fatalf("%d DaemonSets, want 1", len(m.daemonSets))
	}
	ds := m.daemonSets[0]
	if n := len(ds.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("DaemonSet %s: %d containers, want 1", ds.Name, n)
	}
	return ds
}

// TestNamespace: everything is in the namespace the kustomization makes,
// which admits privileged pods.
func TestNamespace(t *testing.T) {
	m := build(t)
	if len(m.namespaces) != 1 || m.namespaces[0].Name != namespace {
		t.Fatalf("namespaces %v, want exactly %s", m.namespaces, namespace)
	}
	if l := m.namespaces[0].Labels["pod-security.kubernetes.io/enforce"]; l != "privileged" {
		t.Errorf("namespace %s: pod-security.kubernetes.io/enforce %q, want privileged (the pods are privileged, on the host network, with hostPath volumes)", namespace, l)
	}
	var objs []interface {
		GetName() string
		GetNamespace() string
	}
	for _, o := range m.serviceAccounts {
		objs = append(objs, o)
	}
	for _, o := range m.resourceQuotas {
		objs = append(objs, o)
	}
	for _, o := range m.configMaps {
		objs = append(objs, o)
	}
	for _, o := range m.daemonSets {
		objs = append(objs, o)
	}
	for _, o := range objs {
		if o.GetNamespace() != namespace {
			t.Errorf("%s: namespace %q, want %q", o.GetName(), o.GetNamespace(), namespace)
		}
	}
}

// TestDaemonSet checks the pod: host network, privileges, volumes,
// probes, scraping, scheduling and updates.
func TestDaemonSet(t *testing.T) {
	m := build(t)
	ds := daemonSet(t, m)
	_, _, _, cfg := config(t, m, ds)
	pod := ds.Spec.Template.Spec
	c := pod.Containers[0]

	t.Run("selector", func(t *testing.T) {
		sel := ds.Spec.Selector
		if sel == nil || len(sel.MatchLabels) == 0 || len(sel.MatchExpressions) > 0 {
			t.Fatalf("selector %+v: want matchLabels only", sel)
		}
		for k, v := range sel.MatchLabels {
			if ds.Spec.Template.Labels[k] != v {
				t.Errorf("selector %s=%s does not match the pod template's labels %v", k, v, ds.Spec.Template.Labels)
			}
		}
	})

	t.Run("scheduling", func(t *testing.T) {
		if !pod.HostNetwork {
			t.Errorf("hostNetwork is false: the interfaces are the node's")
		}
		if pod.DNSPolicy != corev1.DNSClusterFirstWithHostNet {
			t.Errorf("dnsPolicy %q, want %s with hostNetwork", pod.DNSPolicy, corev1.DNSClusterFirstWithHostNet)
		}
		if pod.PriorityClassName != "system-node-critical" {
			t.Errorf("priorityClassName %q, want system-node-critical", pod.PriorityClassName)
		}
		all := slices.ContainsFunc(pod.Tolerations, func(tol corev1.Toleration) bool {
			return tol.Key == "" && tol.Operator == corev1.TolerationOpExists && tol.Effect == ""
		})
		if !all {
			t.Errorf("tolerations %+v: none tolerates every taint (operator Exists, no key, no effect); a tainted node would have no root", pod.Tolerations)
		}
		// Where the ResourceQuota admission limits the critical classes
		// by default (GKE), a pod of one needs a quota in its namespace
		// whose scope selects the class.
		if strings.HasPrefix(pod.PriorityClassName, "system-") && !criticalQuota(m.resourceQuotas, pod.PriorityClassName) {
			t.Errorf("no ResourceQuota admits pods of priority class %s (scopeSelector PriorityClass In [%[1]s], pods for every node)", pod.PriorityClassName)
		}
		if pod.ServiceAccountName == "" || !slices.ContainsFunc(m.serviceAccounts, func(sa *corev1.ServiceAccount) bool { return sa.Name == pod.ServiceAccountName }) {
			t.Errorf("serviceAccountName %q is not one of the kustomization's", pod.ServiceAccountName)
		}
		if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
			t.Errorf("automountServiceAccountToken is not false: the daemon never talks to the API server")
		}
		r := c.Resources.Requests
		if r.Cpu().IsZero() || r.Memory().IsZero() {
			t.Errorf("resources.requests %v: want cpu and memory", r)
		}
	})

	t.Run("updates", func(t *testing.T) {
		u := ds.Spec.UpdateStrategy
		if u.Type != appsv1.RollingUpdateDaemonSetStrategyType || u.RollingUpdate == nil {
			t.Fatalf("updateStrategy %+v, want RollingUpdate", u)
		}
		if mu := u.RollingUpdate.MaxUnavailable; mu == nil || *mu != intstr.FromInt32(1) {
			t.Errorf("maxUnavailable %v, want 1", mu)
		}
		// Two daemons cannot share a node's socket lock: with a surge
		// the new pod would exit until the old one is gone.
		if ms := u.RollingUpdate.MaxSurge; ms != nil && ms.IntValue() != 0 {
			t.Errorf("maxSurge %v, want 0: the new pod's daemon would find the old one holding the lock and exit", ms)
		}
		if g := pod.TerminationGracePeriodSeconds; g == nil || *g < 10 {
			t.Errorf("terminationGracePeriodSeconds %v: want at least 10 s for the daemon to stop its plugins", g)
		}
	})

	t.Run("privileges", func(t *testing.T) {
		sc := c.SecurityContext
		if sc == nil {
			t.Fatal("no securityContext")
		}
		privileged := sc.Privileged != nil && *sc.Privileged
		// The API server's rules (k8s.io/kubernetes pkg/apis/core/validation):
		// Bidirectional mount propagation is available only to
		// privileged containers, and a privileged container may not
		// forbid privilege escalation.
		for _, vm := range c.VolumeMounts {
			if vm.MountPropagation != nil && *vm.MountPropagation == corev1.MountPropagationBidirectional && !privileged {
				t.Errorf("volume mount %s: Bidirectional mount propagation is available only to privileged containers", vm.Name)
			}
		}
		if privileged && sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
			t.Errorf("allowPrivilegeEscalation false with privileged: the API server refuses it")
		}
		if sc.Capabilities == nil {
			t.Fatal("no capabilities: list the set the daemon uses")
		}
		if !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
			t.Errorf("capabilities.drop %v, want [ALL]", sc.Capabilities.Drop)
		}
		var got []string
		for _, c := range sc.Capabilities.Add {
			got = append(got, string(c))
		}
		want := unitCapabilities(t)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("capabilities.add %v, want the systemd unit's CapabilityBoundingSet %v", got, want)
		}
		if sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem {
			// go-plugin puts each plugin's socket in os.TempDir.
			tmp := mountOf(c, "/tmp/x")
			if v := volume(ds, tmp.Name); tmp.ReadOnly || v == nil || v.EmptyDir == nil {
				t.Errorf("readOnlyRootFilesystem without a writable emptyDir at /tmp: the plugins' sockets go there")
			}
		}
	})

	t.Run("volumes", func(t *testing.T) {
		// host checks that path in the container is the node's path
		// hostPath (with the propagation given), and not read-only.
		host := func(what, p, hostPath string, prop corev1.MountPropagationMode) {
			t.Helper()
			vm := mountOf(c, p)
			if vm.Name == "" {
				t.Errorf("%s %s: no volume mounted there", what, p)
				return
			}
			v := volume(ds, vm.Name)
			if v == nil || v.HostPath == nil {
				t.Errorf("%s %s: volume %s is not a hostPath", what, p, vm.Name)
				return
			}
			if got := path.Join(v.HostPath.Path, strings.TrimPrefix(p, vm.MountPath)); got != hostPath {
				t.Errorf("%s %s is the node's %s, want %s", what, p, got, hostPath)
			}
			got := corev1.MountPropagationNone
			if vm.MountPropagation != nil {
				got = *vm.MountPropagation
			}
			if got != prop {
				t.Errorf("%s %s: mountPropagation %s, want %s", what, p, got, prop)
			}
			if vm.ReadOnly {
				t.Errorf("%s %s: mounted read-only", what, p)
			}
		}
		// A bpffs the daemon mounts must reach the node, else the pins
		// would go with the pod's mount namespace.
		host("bpffs", cfg.Daemon.BPFFS, "/sys/fs/bpf", corev1.MountPropagationBidirectional)
		// The pins' program objects and chain state, beside the pins.
		host("state_dir", cfg.Daemon.StateDir, "/run/xdpchain", corev1.MountPropagationNone)
		host("socket", cfg.Daemon.Socket, "/run/xdpchain/xdpchain.sock", corev1.MountPropagationNone)
		// Namespaces `ip netns add` makes later show up.
		host("netns", "/run/netns", "/run/netns", corev1.MountPropagationHostToContainer)
		for _, itf := range cfg.Interfaces {
			if strings.HasPrefix(itf.NetNS, "/") {
				t.Errorf("interface %s: netns by path %s; name one under /run/netns (the pod sees the node's)", itf.Name, itf.NetNS)
			}
		}
	})

	t.Run("probes and metrics", func(t *testing.T) {
		if cfg.Daemon.Metrics == "" {
			t.Fatal("[daemon] metrics is not set: no /healthz, /readyz or /metrics")
		}
		mhost, mport, err := net.SplitHostPort(cfg.Daemon.Metrics)
		if err != nil {
			t.Fatalf("[daemon] metrics %q: %v", cfg.Daemon.Metrics, err)
		}
		port, err := strconv.Atoi(mport)
		if err != nil {
			t.Fatalf("[daemon] metrics %q: port %q", cfg.Daemon.Metrics, mport)
		}
		var named *corev1.ContainerPort
		for i, p := range c.Ports {
			if p.ContainerPort == int32(port) {
				named = &c.Ports[i]
			}
		}
		if named == nil {
			t.Fatalf("no container port %d ([daemon] metrics %q)", port, cfg.Daemon.Metrics)
		}
		if named.HostPort != 0 && named.HostPort != named.ContainerPort {
			t.Errorf("port %s: hostPort %d must equal containerPort %d with hostNetwork", named.Name, named.HostPort, named.ContainerPort)
		}
		probe := func(what string, p *corev1.Probe, wantPath string) {
			t.Helper()
			if p == nil || p.HTTPGet == nil {
				t.Errorf("%s: want an httpGet probe on %s", what, wantPath)
				return
			}
			g := p.HTTPGet
			if g.Path != wantPath {
				t.Errorf("%s: path %q, want %q", what, g.Path, wantPath)
			}
			switch {
			case g.Port.Type == intstr.String && g.Port.StrVal != named.Name,
				g.Port.Type == intstr.Int && g.Port.IntVal != int32(port):
				t.Errorf("%s: port %s, want %d (%s) as [daemon] metrics says", what, g.Port.String(), port, named.Name)
			}
			if g.Scheme != "" && g.Scheme != corev1.URISchemeHTTP {
				t.Errorf("%s: scheme %s; the daemon serves plain HTTP", what, g.Scheme)
			}
			// The kubelet probes the pod's IP (the node's, with
			// hostNetwork) unless the probe names a host.
			if !reachable(mhost, g.Host) {
				t.Errorf("%s: probes host %q (empty: the node's IP), but the daemon listens on %q only", what, g.Host, cfg.Daemon.Metrics)
			}
		}
		probe("livenessProbe", c.LivenessProbe, "/healthz")
		probe("readinessProbe", c.ReadinessProbe, "/readyz")

		// Prometheus's kubernetes_sd pod role scrapes the pod's IP.
		a := ds.Spec.Template.Annotations
		if a["prometheus.io/scrape"] != "true" {
			t.Errorf("annotation prometheus.io/scrape %q, want \"true\"", a["prometheus.io/scrape"])
		}
		if a["prometheus.io/port"] != mport {
			t.Errorf("annotation prometheus.io/port %q, want %q ([daemon] metrics)", a["prometheus.io/port"], mport)
		}
		if p, ok := a["prometheus.io/path"]; ok && p != "/metrics" {
			t.Errorf("annotation prometheus.io/path %q, want /metrics", p)
		}
		if !reachable(mhost, "") {
			t.Errorf("[daemon] metrics %q is not reachable at the pod's IP, which Prometheus scrapes", cfg.Daemon.Metrics)
		}
	})

	t.Run("image", func(t *testing.T) {
		// The kustomization's images: entry applies.
		if c.Image != "xdpchain:dev" {
			t.Errorf("image %q, want xdpchain:dev (kustomization.yaml images)", c.Image)
		}
		if c.ImagePullPolicy != corev1.PullIfNotPresent {
			t.Errorf("imagePullPolicy %q, want IfNotPresent (a locally built image)", c.ImagePullPolicy)
		}
	})
}

// criticalQuota says whether a quota selects pods of the priority class
// and allows at least as many as a cluster has nodes (5000, Kubernetes'
// largest supported cluster).
func criticalQuota(quotas []*corev1.ResourceQuota, class string) bool {
	for _, q := range quotas {
		if q.Spec.ScopeSelector == nil || len(q.Spec.Scopes) > 0 {
			continue
		}
		selects := false
		for _, e := range q.Spec.ScopeSelector.MatchExpressions {
			if e.ScopeName == corev1.ResourceQuotaScopePriorityClass && e.Operator == corev1.ScopeSelectorOpIn && slices.Contains(e.Values, class) {
				selects = true
			}
		}
		pods, ok := q.Spec.Hard[corev1.ResourcePods]
		if selects && ok && pods.Value() >= 5000 && len(q.Spec.Hard) == 1 {
			return true
		}
	}
	return false
}

// reachable says whether a server listening on host (from host:port) is
// reached by a probe of probeHost, where "" means the pod's IP: with
// hostNetwork, one of the node's addresses.
func reachable(host, probeHost string) bool {
	if host == "" || host == "0.0.0.0" || host == "::" {
		return true
	}
	if probeHost == "" {
		return false // a specific address is not "the pod's IP" on every node
	}
	return host == probeHost || (host == "localhost" && net.ParseIP(probeHost).IsLoopback())
}

// unitCapabilities returns the systemd unit's CapabilityBoundingSet,
// without the CAP_ prefix, sorted.
func unitCapabilities(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile("../systemd/xdpchain.service")
	if err != nil {
		t.Fatal(err)
	}
	var caps []string
	for _, line := range strings.Split(string(src), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "CapabilityBoundingSet="); ok {
			for _, c := range strings.Fields(v) {
				caps = append(caps, strings.TrimPrefix(c, "CAP_"))
			}
		}
	}
	if len(caps) == 0 {
		t.Fatal("../systemd/xdpchain.service: no CapabilityBoundingSet")
	}
	slices.Sort(caps)
	return caps
}

// TestImageHasCommands: every plugin command and program object of the
// ConfigMap's config is a file the Dockerfile puts in the image.
func TestImageHasCommands(t *testing.T) {
	m := build(t)
	ds := daemonSet(t, m)
	_, _, _, cfg := config(t, m, ds)
	installed := dockerfileFiles(t)
	for _, p := range cfg.Plugins {
		if !installed[p.Command] {
			t.Errorf("plugin %s: command %s is not installed by the Dockerfile (it installs %v)", p.Name, p.Command, keysOf(installed))
		}
	}
	for _, p := range cfg.Programs {
		if !installed[p.Object] {
			t.Errorf("program %s: object %s is not in the image", p.Name, p.Object)
		}
	}
	if want := "/usr/bin/xdpchain"; !installed[want] {
		t.Errorf("the Dockerfile does not install %s", want)
	}
	// The daemon is the container's PID 1, which the kubelet's SIGTERM
	// reaches (a shell in between would not pass it on): the image's
	// exec-form ENTRYPOINT, which the container does not override.
	if ep := dockerfileEntrypoint(t); !slices.Equal(ep, []string{"/usr/bin/xdpchain"}) {
		t.Errorf("Dockerfile ENTRYPOINT %q, want [\"/usr/bin/xdpchain\"] (exec form)", ep)
	}
	if c := ds.Spec.Template.Spec.Containers[0]; len(c.Command) > 0 {
		t.Errorf("the container's command %q overrides the image's ENTRYPOINT", c.Command)
	}
}

// dockerfileEntrypoint returns the last exec-form ENTRYPOINT's words.
func dockerfileEntrypoint(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var ep []string
	for _, line := range strings.Split(string(src), "\n") {
		if v, ok := strings.CutPrefix(line, "ENTRYPOINT "); ok {
			ep = nil
			if err := json.Unmarshal([]byte(v), &ep); err != nil {
				t.Errorf("Dockerfile: ENTRYPOINT %s is not the exec form: %v", v, err)
			}
		}
	}
	return ep
}

func keysOf(m map[string]bool) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	slices.Sort(k)
	return k
}

// dockerfileFiles returns the paths the final stage's COPY lines create.
func dockerfileFiles(t *testing.T) map[string]bool {
	t.Helper()
	src, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	files := make(map[string]bool)
	for _, line := range strings.Split(string(src), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "FROM":
			clear(files) // only the last stage is the image
		case "COPY", "ADD":
			var args []string
			for _, a := range f[1:] {
				if !strings.HasPrefix(a, "--") {
					args = append(args, a)
				}
			}
			if len(args) < 2 {
				continue
			}
			dst, srcs := args[len(args)-1], args[:len(args)-1]
			for _, s := range srcs {
				if strings.HasSuffix(dst, "/") {
					files[dst+path.Base(s)] = true
				} else {
					files[dst] = true
				}
			}
		}
	}
	return files
}

// TestConfigMapPassesCheck runs `xdpchain run --check` on the ConfigMap's
// config.toml as it is, but for one rewrite: the image's install prefix
// of the plugins (/usr/libexec/xdpchain/) becomes a directory where the
// test built them, since --check starts each plugin once. Everything
// else (interfaces, plugin settings, the [daemon] keys) is checked as
// the ConfigMap has it.
func TestConfigMapPassesCheck(t *testing.T) {
	m := build(t)
	ds := daemonSet(t, m)
	_, key, text, cfg := config(t, m, ds)
	for _, p := range cfg.Plugins {
		if !strings.HasPrefix(p.Command, imageRoot) {
			t.Fatalf("plugin %s: command %s is not under %s, where the image has the plugins", p.Name, p.Command, imageRoot)
		}
	}
	if len(cfg.Programs) > 0 {
		t.Fatalf("the config has [[program]]s: extend the test to place their objects")
	}
	bin := t.TempDir()
	xdpchain := os.Getenv("XDPCHAIN_BIN")
	pkgs := []string{"./plugins/blocklist/cmd/xdpchain-blocklist", "./plugins/ratelimit/cmd/xdpchain-ratelimit"}
	if xdpchain == "" {
		xdpchain = filepath.Join(bin, "xdpchain")
		pkgs = append(pkgs, "./cmd/xdpchain")
	}
	goBuild := exec.Command("go", "build", "-o", bin+"/")
	goBuild.Args = append(goBuild.Args, pkgs...)
	goBuild.Dir = filepath.Join("..", "..")
	if out, err := goBuild.CombinedOutput(); err != nil {
		t.Fatalf("%s (in the repository): %v\n%s", strings.Join(goBuild.Args, " "), err, out)
	}

	dir := t.TempDir()
	file := filepath.Join(dir, key)
	if err := os.WriteFile(file, []byte(strings.ReplaceAll(text, imageRoot, bin+"/")), 0o644); err != nil {
		t.Fatal(err)
	}
	check := exec.Command(xdpchain, "run", "--check", "--config", file)
	var stdout, stderr bytes.Buffer
	check.Stdout, check.Stderr = &stdout, &stderr
	err := check.Run()
	t.Logf("xdpchain run --check: %s%s", stdout.String(), stderr.String())
	if err != nil {
		t.Fatalf("xdpchain run --check on the ConfigMap's %s: %v\n%s%s", key, err, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), ": ok (") {
		t.Errorf("xdpchain run --check: %q, want ok", stdout.String())
	}
}
