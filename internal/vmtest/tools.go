package vmtest

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// ensureTools finds qemu and a static busybox, installing their Debian
// packages when they are missing and we may. It returns busybox's path.
func ensureTools(opts *Options, logf func(string, ...any)) (string, error) {
	need := map[string]string{}
	if _, err := exec.LookPath(opts.Qemu); err != nil {
		need["qemu-system-x86"] = opts.Qemu
	}
	busybox := findStaticBusybox()
	if busybox == "" {
		need["busybox-static"] = "static busybox"
	}
	if _, err := exec.LookPath("xz"); err != nil {
		need["xz-utils"] = "xz"
	}
	if len(need) == 0 {
		return busybox, nil
	}
	var pkgs, what []string
	for p, w := range need {
		pkgs = append(pkgs, p)
		what = append(what, w)
	}
	if opts.NoInstall || os.Geteuid() != 0 {
		return "", fmt.Errorf("missing %s: install %s", strings.Join(what, ", "), strings.Join(pkgs, " "))
	}
	logf("installing %s", strings.Join(pkgs, " "))
	install := append([]string{"install", "-y", "--no-install-recommends"}, pkgs...)
	if out, err := exec.Command("apt-get", install...).CombinedOutput(); err != nil {
		logf("apt-get install failed, updating package lists: %s", strings.TrimSpace(string(out)))
		if out, err := exec.Command("apt-get", "update").CombinedOutput(); err != nil {
			return "", fmt.Errorf("apt-get update: %w\n%s", err, out)
		}
		if out, err := exec.Command("apt-get", install...).CombinedOutput(); err != nil {
			return "", fmt.Errorf("apt-get install: %w\n%s", err, out)
		}
	}
	if busybox = findStaticBusybox(); busybox == "" {
		return "", errors.New("no static busybox after installing busybox-static")
	}
	return busybox, nil
}

func findStaticBusybox() string {
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		f, err := elf.Open(p)
		if err != nil {
			continue
		}
		static := true
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_INTERP {
				static = false
			}
		}
		f.Close()
		if static {
			return p
		}
	}
	return ""
}
