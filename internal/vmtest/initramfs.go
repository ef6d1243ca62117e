package vmtest

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Paths inside the guest.
const (
	guestTests   = "/tests"
	guestSrc     = "/src"
	guestBin     = "/bin/xdpchain"
	guestModules = "/lib/modules"
	guestTools   = "/usr/local/sbin"
	// guestCommands holds the module's commands (xdpchain, plugins); it
	// is on PATH and is the guest's XDPCHAIN_PLUGIN_DIR.
	guestCommands = "/usr/local/bin"
)

// payload is what the common part of the initramfs carries.
type payload struct {
	Busybox   string         // static busybox on the host
	Commands  []*command     // the module's binaries; xdpchain also goes to /bin
	Packages  []*TestPackage // only those with a Binary are packed
	Module    *module
	Testdata  []string // testdata directories relative to the module root
	Root      []string // files at the module root
	Tools     []hostTool
	HostFiles []string // absolute host paths, copied to the same paths
	Init      []byte   // the /init script
}

// payloadMarker is the last file of the payload; the guest checks it to
// know the payload disk was unpacked completely.
const payloadMarker = ".payload-complete"

// writeCommonInitramfs writes the gzip-compressed cpio archive shared by
// every kernel: busybox, /init and a few files in /etc. With disk == "",
// the payload (test binaries, commands, testdata, host tools) goes into the
// same archive; otherwise it is written to disk as an uncompressed cpio
// archive that the guest reads from a virtio disk and unpacks, which boots
// faster than a large initramfs under TCG (see docs/vmtest.md).
func writeCommonInitramfs(dst, disk string, p *payload) error {
	applets, err := busyboxApplets(p.Busybox)
	if err != nil {
		return err
	}
	base := func(c *cpioWriter) error {
		for _, d := range []string{"proc", "sys", "dev", "run", "tmp", "root", "etc", "mnt", "var", "lib/modules", "usr/bin", "usr/sbin", "sbin"} {
			c.Dir(d, 0o755)
		}
		c.Symlink("var/run", "/run")
		// The kernel opens /dev/console for init before devtmpfs is mounted.
		c.CharDev("dev/console", 0o600, 5, 1)
		c.CharDev("dev/null", 0o666, 1, 3)
		c.CopyFile("bin/busybox", 0o755, p.Busybox)
		for _, a := range applets {
			if a != "bin/busybox" {
				c.Symlink(a, "/bin/busybox")
			}
		}
		// tcpdump (a host tool) drops its privileges to the user tcpdump,
		// and exits 1 where there is none.
		c.File("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\ntcpdump:x:102:105::/nonexistent:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"))
		c.File("etc/group", 0o644, []byte("root:x:0:\ntcpdump:x:105:\nnogroup:x:65534:\n"))
		c.File("etc/hosts", 0o644, []byte("127.0.0.1 localhost\n::1 localhost\n"))
		c.File("init", 0o755, p.Init)
		return nil
	}
	if disk == "" {
		return writeGzipCPIO(dst, func(c *cpioWriter) error {
			if err := base(c); err != nil {
				return err
			}
			return writePayload(c, p)
		})
	}
	if err := writeGzipCPIO(dst, base); err != nil {
		return err
	}
	return writeDiskCPIO(disk, func(c *cpioWriter) error {
		if err := writePayload(c, p); err != nil {
			return err
		}
		c.File(payloadMarker, 0o644, nil)
		return nil
	})
}

// writePayload adds the test binaries, commands, sources' testdata and host
// tools.
func writePayload(c *cpioWriter, p *payload) error {
	for _, cmd := range p.Commands {
		if cmd.Binary == "" {
			continue
		}
		c.CopyFile(guestCommands+"/"+cmd.Name, 0o755, cmd.Binary)
		if "/bin/"+cmd.Name == guestBin {
			c.Symlink(guestBin, guestCommands+"/"+cmd.Name)
		}
	}
	for _, pkg := range p.Packages {
		if pkg.Binary == "" {
			continue
		}
		c.CopyFile(guestTests+"/"+pkg.GuestName(), 0o755, pkg.Binary)
		c.Dir(guestSrc+"/"+pkg.Rel, 0o755)
	}
	for _, f := range p.Root {
		c.CopyFile(guestSrc+"/"+f, 0o644, filepath.Join(p.Module.Dir, f))
	}
	libs := map[string]bool{}
	for _, t := range p.Tools {
		c.CopyFile(guestTools+"/"+t.Name, 0o755, t.Path)
		for _, l := range t.Libs {
			if !libs[l] {
				libs[l] = true
				c.CopyFile(l, 0o755, l) // follows symlinks: the soname gets the real file
			}
		}
	}
	if len(p.Tools) > 0 {
		if _, err := os.Stat("/etc/iproute2"); err == nil {
			if err := copyTree(c, "/etc/iproute2", "/etc/iproute2"); err != nil {
				return err
			}
		}
	}
	for _, td := range p.Testdata {
		if err := copyTree(c, filepath.Join(p.Module.Dir, td), guestSrc+"/"+td); err != nil {
			return err
		}
	}
	for _, f := range p.HostFiles {
		if err := copyTree(c, f, f); err != nil {
			return err
		}
	}
	return nil
}

// writeDiskCPIO writes an uncompressed cpio archive padded to whole
// 512-byte sectors, for use as a raw disk image.
func writeDiskCPIO(dst string, fill func(*cpioWriter) error) (err error) {
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	c := newCPIOWriter(bw)
	if err := fill(c); err != nil {
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	if err := c.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	off, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	if r := off % 512; r != 0 {
		_, err = f.Write(make([]byte, 512-r))
	}
	return err
}

// writeKernelInitramfs writes the per-kernel archive: the modules to load,
// in order, under /lib/modules/<release>/, and their list in load-order.
func writeKernelInitramfs(dst string, k *Kernel, mods []Module) error {
	return writeGzipCPIO(dst, func(c *cpioWriter) error {
		dir := guestModules + "/" + k.Release
		var order strings.Builder
		for _, m := range mods {
			c.File(dir+"/"+m.Name+".ko", 0o644, m.Data)
			order.WriteString(m.Name + "\n")
		}
		c.File(dir+"/load-order", 0o644, []byte(order.String()))
		return nil
	})
}

func writeGzipCPIO(dst string, fill func(*cpioWriter) error) (err error) {
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	zw, err := gzip.NewWriterLevel(bw, gzip.BestSpeed)
	if err != nil {
		return err
	}
	c := newCPIOWriter(zw)
	if err := fill(c); err != nil {
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	if err := c.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}

// concatFiles writes the concatenation of srcs to dst; the kernel unpacks
// concatenated compressed cpio archives one after the other.
func concatFiles(dst string, srcs ...string) (err error) {
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	for _, s := range srcs {
		in, err := os.Open(s)
		if err != nil {
			return err
		}
		_, err = io.Copy(out, in)
		in.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func copyTree(c *cpioWriter, src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		name := dst + "/" + filepath.ToSlash(rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			c.Dir(name, uint32(info.Mode().Perm()))
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			c.Symlink(name, target)
		case info.Mode().IsRegular():
			c.CopyFile(name, uint32(info.Mode().Perm()), path)
		}
		return nil
	})
}

// busyboxApplets lists the paths (relative to /) of busybox's applets.
func busyboxApplets(busybox string) ([]string, error) {
	out, err := exec.Command(busybox, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("listing busybox applets: %w", err)
	}
	var applets []string
	for _, a := range strings.Fields(string(out)) {
		applets = append(applets, strings.TrimPrefix(a, "/"))
	}
	return applets, nil
}
