package vmtest

import (
	"debug/elf"
	"testing"
)

// Both the hosts (busybox-static) and the guests (/bin/busybox) have a
// static busybox; a dynamic one must not be taken for it.
func TestFindStaticBusybox(t *testing.T) {
	p := findStaticBusybox()
	if p == "" {
		t.Fatal("no static busybox found (install busybox-static)")
	}
	f, err := elf.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			t.Fatalf("%s has an ELF interpreter", p)
		}
	}
}

func TestSharedLibs(t *testing.T) {
	libs, err := sharedLibs("/bin/busybox")
	if err != nil || len(libs) != 0 {
		t.Errorf("static busybox: libs %q, err %v", libs, err)
	}
}
