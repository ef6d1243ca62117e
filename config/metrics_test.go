package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/config"
)

func TestDaemonMetrics(t *testing.T) {
	dir := t.TempDir()
	for src, want := range map[string]string{
		"[daemon]\n": "",
		"[daemon]\nmetrics = \"127.0.0.1:9464\"\n": "127.0.0.1:9464",
		"[daemon]\nmetrics = \":9464\"\n":          ":9464",
	} {
		path := filepath.Join(dir, "c.toml")
		os.WriteFile(path, []byte(src), 0o644)
		cfg, err := config.Load(path)
		if err != nil {
			t.Errorf("%q: %v", src, err)
		} else if cfg.Daemon.Metrics != want {
			t.Errorf("%q: metrics %q, want %q", src, cfg.Daemon.Metrics, want)
		}
	}
	path := filepath.Join(dir, "bad.toml")
	os.WriteFile(path, []byte("[daemon]\nmetrics = \"9464\"\n"), 0o644)
	if _, err := config.Load(path); err == nil || !strings.Contains(err.Error(), "bad.toml:2: daemon.metrics: want a listen address host:port") {
		t.Errorf("metrics = \"9464\": %v", err)
	}
}

func TestDaemonProfileSample(t *testing.T) {
	dir := t.TempDir()
	for src, want := range map[string]uint32{
		"[daemon]\n":                        0,
		"[daemon]\nprofile_sample = 1000\n": 1000,
		"[daemon]\nprofile_sample = 1\n":    1,
	} {
		path := filepath.Join(dir, "c.toml")
		os.WriteFile(path, []byte(src), 0o644)
		cfg, err := config.Load(path)
		if err != nil {
			t.Errorf("%q: %v", src, err)
		} else if cfg.Daemon.ProfileSample != want {
			t.Errorf("%q: profile_sample %d, want %d", src, cfg.Daemon.ProfileSample, want)
		}
	}
	for _, bad := range []string{"0", "-5", "\"1000\"", "2000000000"} {
		path := filepath.Join(dir, "bad.toml")
		os.WriteFile(path, []byte("[daemon]\nprofile_sample = "+bad+"\n"), 0o644)
		if _, err := config.Load(path); err == nil || !strings.Contains(err.Error(), "bad.toml:2: daemon.profile_sample: ") {
			t.Errorf("profile_sample = %s: %v", bad, err)
		}
	}
}
