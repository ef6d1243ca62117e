package vmtest

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestPickPackage(t *testing.T) {
	names := []string{
		"linux-image-6.1.0-9-amd64",
		"linux-image-6.1.0-56-amd64-dbg",
		"linux-image-6.1.0-56-amd64-unsigned",
		"linux-image-6.1.0-56-cloud-amd64",
		"linux-image-6.1.0-47-amd64",
		"linux-image-6.1.0-56-amd64",
		"linux-image-6.12.117+deb12-amd64",
		"linux-image-6.12.99+deb12-amd64",
		"linux-image-6.12-amd64",
	}
	for _, tc := range []struct {
		line   string
		exists func(string) bool
		want   string
	}{
		{"6.1", nil, "linux-image-6.1.0-56-amd64"},
		{"6.12", nil, "linux-image-6.12.117+deb12-amd64"},
		// A newest name that is only provided by another package is skipped.
		{"6.1", func(n string) bool { return n != "linux-image-6.1.0-56-amd64" }, "linux-image-6.1.0-47-amd64"},
		{"6.12", func(string) bool { return false }, ""},
	} {
		got, ok := pickPackage(KernelLines[tc.line], names, tc.exists)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("line %s: got %q %v, want %q", tc.line, got, ok, tc.want)
		}
	}
}

// fakeModule builds a minimal relocatable ELF with a .modinfo section.
func fakeModule(modinfo string) []byte {
	shstr := "\x00.modinfo\x00.shstrtab\x00"
	const ehsize, shentsize = 64, 64
	infoOff := ehsize
	strOff := infoOff + len(modinfo)
	shOff := (strOff + len(shstr) + 7) &^ 7
	var b bytes.Buffer
	le := binary.LittleEndian
	b.Write([]byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0})
	b.Write(make([]byte, 8))
	binary.Write(&b, le, uint16(1))  // ET_REL
	binary.Write(&b, le, uint16(62)) // EM_X86_64
	binary.Write(&b, le, uint32(1))
	binary.Write(&b, le, uint64(0)) // entry
	binary.Write(&b, le, uint64(0)) // phoff
	binary.Write(&b, le, uint64(shOff))
	binary.Write(&b, le, uint32(0))
	for _, v := range []uint16{ehsize, 0, 0, shentsize, 3, 2} {
		binary.Write(&b, le, v)
	}
	b.WriteString(modinfo)
	b.WriteString(shstr)
	b.Write(make([]byte, shOff-b.Len()))
	section := func(name, typ uint32, off, size int) {
		binary.Write(&b, le, name)
		binary.Write(&b, le, typ)
		for _, v := range []uint64{0, 0, uint64(off), uint64(size), 0, 1, 0} { // flags addr off size link+info align entsize
			binary.Write(&b, le, v)
		}
	}
	b.Write(make([]byte, shentsize))
	section(1, 1, infoOff, len(modinfo)) // PROGBITS
	section(10, 3, strOff, len(shstr))   // STRTAB
	return b.Bytes()
}

func TestModuleDepends(t *testing.T) {
	for _, tc := range []struct {
		info string
		want []string
	}{
		{"license=GPL\x00depends=\x00name=veth\x00", nil},
		{"license=GPL\x00depends=xfrm_algo,foo-bar\x00name=xfrm_user\x00", []string{"xfrm_algo", "foo-bar"}},
		{"name=x\x00", nil},
	} {
		got, err := moduleDepends(fakeModule(tc.info))
		if err != nil {
			t.Fatalf("%q: %v", tc.info, err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%q: depends %q, want %q", tc.info, got, tc.want)
		}
	}
	if _, err := moduleDepends([]byte("not an elf")); err == nil {
		t.Error("garbage parsed as a module")
	}
}

func TestKernelModules(t *testing.T) {
	dir := t.TempDir()
	k := &Kernel{Name: "test", Package: "linux-image-test", Dir: dir, Release: "1.0-test"}
	mods := filepath.Join(dir, "lib", "modules", k.Release, "kernel")
	write := func(rel, info string) {
		p := filepath.Join(mods, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, fakeModule(info), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("net/xfrm/xfrm_user.ko", "depends=xfrm_algo\x00")
	write("net/xfrm/xfrm_algo.ko", "depends=\x00")
	write("drivers/net/veth.ko", "depends=\x00")
	// Debian 6.12 ships modules xz-compressed; they are decompressed on
	// the host (busybox provides xz -d in a VM). testdata/dummy.ko.xz is
	// fakeModule("depends=\x00") compressed with xz; it also checks that
	// the harness runs tests in their package directory.
	xzData, err := os.ReadFile("testdata/dummy.ko.xz")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mods, "drivers/net/dummy.ko.xz"), xzData, 0o644); err != nil {
		t.Fatal(err)
	}
	write("a/loop1.ko", "depends=loop2\x00")
	write("a/loop2.ko", "depends=loop1\x00")

	builtin := "kernel/drivers/virtio/virtio_pci.ko\nkernel/drivers/virtio/virtio.ko\n"
	if err := os.WriteFile(filepath.Join(dir, "lib", "modules", k.Release, "modules.builtin"), []byte(builtin), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := k.Modules([]string{"virtio_pci", "veth", "xfrm-user", "dummy"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range got {
		names = append(names, m.Name)
	}
	if want := []string{"veth", "xfrm_algo", "xfrm_user", "dummy"}; !slices.Equal(names, want) {
		t.Errorf("load order %q, want %q", names, want)
	}
	if d := got[3].Data; !bytes.Equal(d, fakeModule("depends=\x00")) {
		t.Errorf("dummy.ko.xz decompressed to %d unexpected bytes", len(d))
	}
	if _, err := k.Modules([]string{"missing"}); err == nil {
		t.Error("a missing module was not reported")
	}
	if _, err := k.Modules([]string{"loop1"}); err == nil {
		t.Error("a dependency cycle was not reported")
	}
}
