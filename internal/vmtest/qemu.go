package vmtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ErrTimeout is wrapped when a VM did not finish within Options.VMTimeout.
var ErrTimeout = errors.New("vm timed out")

// doneGrace is how long qemu may take to exit after the guest's DONE line.
const doneGrace = 60 * time.Second

func qemuArgs(k *Kernel, initrd, disk string, opts *Options) []string {
	args := []string{
		"-m", strconv.Itoa(opts.MemoryMB),
		"-smp", strconv.Itoa(opts.CPUs),
		"-nographic", "-no-reboot", "-nic", "none",
		"-kernel", k.Vmlinuz,
		"-initrd", initrd,
		"-append", strings.TrimSpace("console=ttyS0 panic=-1 quiet no_timer_check " + opts.KernelArgs),
	}
	if disk != "" {
		args = append(args, "-drive", "file="+disk+",format=raw,if=virtio,readonly=on")
	}
	if opts.Accel == "kvm" {
		args = append(args, "-accel", "kvm", "-cpu", "host")
	} else {
		args = append(args, "-accel", opts.Accel) // tcg, or tcg with options
	}
	return args
}

var ansiRE = regexp.MustCompile("\x1b(\\[[0-9;?]*[A-Za-z]|[()][0-9A-Za-z]|[A-Za-z=>])")

// cleanLine removes carriage returns, terminal escape sequences and other
// control characters the firmware and serial console emit.
func cleanLine(s string) string {
	s = ansiRE.ReplaceAllString(s, "")
	return strings.Map(func(r rune) rune {
		if r == '\t' || r >= 0x20 && r != 0x7f {
			return r
		}
		return -1
	}, s)
}

// runVM boots one kernel with initrd, streams its console to term (each
// line prefixed with the kernel's name) and raw to the log, and feeds every
// line to res.
func runVM(ctx context.Context, k *Kernel, initrd, disk string, opts *Options, res *KernelResult, term, logw io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, opts.VMTimeout)
	defer cancel()

	cmd := exec.CommandContext(ctx, opts.Qemu, qemuArgs(k, initrd, disk, opts)...)
	cmd.Stdin = nil // /dev/null: qemu must not put a terminal into raw mode
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	fmt.Fprintf(logw, "# %s %s\n", opts.Qemu, strings.Join(cmd.Args[1:], " "))
	res.started = time.Now()
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return fmt.Errorf("starting qemu: %w", err)
	}
	pw.Close()

	// After DONE, give qemu doneGrace to power off, then stop it.
	doneSeen := make(chan struct{})
	go func() {
		select {
		case <-doneSeen:
			select {
			case <-time.After(doneGrace):
				cancel()
			case <-ctx.Done():
			}
		case <-ctx.Done():
		}
	}()

	prefix := "[" + k.Name + "] "
	r := bufio.NewReaderSize(pr, 64<<10)
	sawDone := false
	for {
		line, err := r.ReadString('\n')
		if line != "" {
			now := time.Now()
			io.WriteString(logw, line)
			clean := cleanLine(line)
			fmt.Fprintln(term, prefix+clean)
			res.feed(clean, now)
			if res.Done != "" && !sawDone {
				sawDone = true
				close(doneSeen)
			}
		}
		if err != nil {
			break
		}
	}
	pr.Close()
	werr := cmd.Wait()
	res.Total = time.Since(res.started)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && !sawDone {
		return fmt.Errorf("%w after %s", ErrTimeout, opts.VMTimeout)
	}
	if werr != nil && !sawDone {
		return fmt.Errorf("qemu: %w", werr)
	}
	return nil
}
