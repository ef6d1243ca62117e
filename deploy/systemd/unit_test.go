// Package systemd_test checks deploy/systemd/xdpchain.service: its
// directives, and systemd's own verdict on it (systemd-analyze verify). The
// daemon's side of Type=notify and the unit's capability set are exercised
// by daemon.TestNotify and daemon.TestNotifyUnitCapabilities.
package systemd_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/deploy/systemd"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

const unitFile = "xdpchain.service"

// directives returns the unit's KEY=VALUE lines by key (repeated keys in
// order), per section.
func directives(t *testing.T, src string) map[string][]string {
	t.Helper()
	out := make(map[string][]string)
	section := ""
	for _, line := range strings.Split(src, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: not KEY=VALUE: %q", unitFile, line)
			}
			out[section+"."+k] = append(out[section+"."+k], v)
		}
	}
	return out
}

func TestUnitDirectives(t *testing.T) {
	d := directives(t, systemd.Unit)
	one := func(key string) string {
		if len(d[key]) != 1 {
			t.Errorf("%s: %d values, want 1", key, len(d[key]))
			return ""
		}
		return d[key][0]
	}
	words := func(key string) []string {
		var w []string
		for _, v := range d[key] {
			w = append(w, strings.Fields(v)...)
		}
		return w
	}
	for key, want := range map[string]string{
		"Service.Type":             "notify",
		"Service.NotifyAccess":     "main",
		"Service.ExecStart":        "/usr/bin/xdpchain run --config /etc/xdpchain/config.toml",
		"Service.ExecReload":       "/usr/bin/xdpchain reload --config /etc/xdpchain/config.toml",
		"Service.Restart":          "on-failure",
		"Service.KillMode":         "mixed",
		"Unit.DefaultDependencies": "no",
	} {
		if got := one(key); got != want {
			t.Errorf("%s=%s, want %s", key, got, want)
		}
	}
	for key, want := range map[string]string{
		"Unit.Before": "network-pre.target",
		"Unit.Wants":  "network-pre.target",
	} {
		if !slices.Contains(words(key), want) {
			t.Errorf("%s=%v, want it to name %s", key, d[key], want)
		}
	}
	// Exactly what the daemon needs (daemon.TestNotifyUnitCapabilities
	// runs it with this set).
	caps := words("Service.CapabilityBoundingSet")
	slices.Sort(caps)
	want := []string{"CAP_BPF", "CAP_CHOWN", "CAP_KILL", "CAP_NET_ADMIN", "CAP_PERFMON", "CAP_SETGID", "CAP_SETUID", "CAP_SYS_ADMIN"}
	if !slices.Equal(caps, want) {
		t.Errorf("CapabilityBoundingSet %v, want %v", caps, want)
	}
	if one("Service.NoNewPrivileges") != "yes" {
		t.Error("NoNewPrivileges is not set")
	}
	// Options that give the service a mount namespace of its own would
	// hide its bpffs mount and pins from the host, and new network
	// namespaces from it.
	for _, key := range []string{"ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices", "ProtectKernelTunables",
		"ProtectKernelModules", "ProtectKernelLogs", "ProtectControlGroups", "ReadOnlyPaths", "ReadWritePaths",
		"InaccessiblePaths", "TemporaryFileSystem", "PrivateMounts", "MountFlags", "RootDirectory", "BindPaths"} {
		if v := d["Service."+key]; v != nil {
			t.Errorf("%s=%v: gives the service a private mount namespace", key, v)
		}
	}
}

// TestSystemdAnalyzeVerify has systemd check the unit, with ExecStart
// pointing at a built xdpchain (verify wants the binary to exist).
func TestSystemdAnalyzeVerify(t *testing.T) {
	vmtest.LogWhere(t)
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skipf("skipped on %s: no systemd-analyze (Debian's systemd package); this test runs on the host, not in the Debian VMs", vmtest.Where())
	}
	bin, err := filepath.Abs(testutil.XDPChainBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(t.TempDir(), unitFile)
	if err := os.WriteFile(unit, []byte(strings.ReplaceAll(systemd.Unit, "/usr/bin/xdpchain", bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", "--man=no", unit).CombinedOutput()
	// Unknown keys and bad values are warnings with exit status 0: any
	// output fails the test.
	if err != nil || len(strings.TrimSpace(string(out))) != 0 {
		t.Fatalf("systemd-analyze verify %s: %v\n%s", unit, err, out)
	}
}
