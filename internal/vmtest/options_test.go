package vmtest

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestDefaultCacheDir(t *testing.T) {
	t.Setenv("XDPCHAIN_VMTEST_CACHE", "/x/cache")
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	if got := DefaultCacheDir(); got != "/x/cache" {
		t.Errorf("with XDPCHAIN_VMTEST_CACHE: %q", got)
	}
	t.Setenv("XDPCHAIN_VMTEST_CACHE", "")
	if got := DefaultCacheDir(); got != filepath.Join("/xdg", "xdpchain-vmtest") {
		t.Errorf("with XDG_CACHE_HOME: %q", got)
	}
	t.Setenv("XDG_CACHE_HOME", "")
	if os.Geteuid() == 0 {
		if got := DefaultCacheDir(); got != "/var/cache/xdpchain-vmtest" {
			t.Errorf("as root: %q", got)
		}
	}
}

func TestOptionsDefaults(t *testing.T) {
	o := Options{Kernels: []string{"6.12"}, HostTools: []string{}}
	o.setDefaults()
	if !slices.Equal(o.Kernels, []string{"6.12"}) || !slices.Equal(o.Packages, []string{"./..."}) {
		t.Errorf("kernels %q, packages %q", o.Kernels, o.Packages)
	}
	if o.MemoryMB != 2048 || o.CPUs != 2 || o.Accel != DefaultAccel || o.Payload != PayloadDisk || o.Parallel != DefaultParallel {
		t.Errorf("machine defaults: %+v", o)
	}
	if len(o.HostTools) != 0 {
		t.Errorf("an explicitly empty host tool list was replaced by %q", o.HostTools)
	}
	if !slices.Equal(o.Modules, DefaultModules) || !slices.Equal(o.HostFiles, DefaultHostFiles) {
		t.Errorf("modules %q, host files %q", o.Modules, o.HostFiles)
	}
}
