package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/config"
)

func TestInterfacePatterns(t *testing.T) {
	for name, want := range map[string]bool{"eth0": false, "eth*": true, "ens?": true, "veth[0-9]*": true, "br-lan": false} {
		if got := config.IsPattern(name); got != want {
			t.Errorf("IsPattern(%q) = %v, want %v", name, got, want)
		}
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	os.WriteFile(good, []byte("[[interface]]\nname = \"eth*\"\n\n[[interface]]\nname = \"eth0\"\n"), 0o644)
	cfg, err := config.Load(good)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Interfaces) != 2 || cfg.Interfaces[0].Name != "eth*" {
		t.Errorf("interfaces %+v", cfg.Interfaces)
	}
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("[[interface]]\nname = \"eth[\"\n"), 0o644)
	if _, err := config.Load(bad); err == nil || !strings.Contains(err.Error(), `interface[0].name: bad interface pattern "eth["`) {
		t.Errorf("a bad pattern: %v", err)
	}
}
