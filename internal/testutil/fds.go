package testutil

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// OpenFDs returns the open file descriptors of this process and what each
// refers to (the target of /proc/self/fd/N), without the descriptor used to
// read the directory.
func OpenFDs() (map[int]string, error) {
	dir, err := os.Open("/proc/self/fd")
	if err != nil {
		return nil, fmt.Errorf("opening /proc/self/fd: %w", err)
	}
	defer dir.Close()
	names, err := dir.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("reading /proc/self/fd: %w", err)
	}
	self := int(dir.Fd())
	fds := make(map[int]string, len(names))
	for _, name := range names {
		fd, err := strconv.Atoi(name)
		if err != nil || fd == self {
			continue
		}
		target, err := os.Readlink("/proc/self/fd/" + name)
		if err != nil {
			continue // closed meanwhile
		}
		fds[fd] = target
	}
	return fds, nil
}

// LeakedFDs compares two snapshots from OpenFDs and describes every
// descriptor of after that was not open, or referred to something else,
// in before, sorted by number.
func LeakedFDs(before, after map[int]string) []string {
	var leaked []string
	for fd, target := range after {
		if old, ok := before[fd]; ok && old == target {
			continue
		}
		leaked = append(leaked, fmt.Sprintf("fd %d -> %s", fd, target))
	}
	slices.SortFunc(leaked, func(a, b string) int {
		return fdNumber(a) - fdNumber(b)
	})
	return leaked
}

func fdNumber(s string) int {
	n, _ := strconv.Atoi(strings.Fields(s)[1])
	return n
}

// warmUpRuntime makes the Go runtime open the descriptors it keeps for the
// life of the process (the network poller's epoll and eventfd) before the
// first snapshot, so that they are not reported as leaks.
func warmUpRuntime() {
	r, w, err := os.Pipe()
	if err != nil {
		return
	}
	r.Close()
	w.Close()
}

// fdSettle bounds the wait for descriptors closed asynchronously after the
// tests (generous: the suite also runs under qemu/TCG).
const fdSettle = 20 * time.Second

// RunWithFDCheck runs the tests of m and then checks that every file
// descriptor opened while they ran has been closed. Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testutil.RunWithFDCheck(m)) }
//
// It returns m.Run's exit code, or 1 if descriptors leaked (listed on
// stderr).
//
// The binaries XDPChainBinary and PluginBinary build while the tests run
// are built once and removed after them.
func RunWithFDCheck(m *testing.M) int {
	removeBuilt := enableBuildCache()
	defer removeBuilt()
	return runWithFDCheck(m.Run, os.Stderr, fdSettle)
}

func runWithFDCheck(run func() int, w io.Writer, settle time.Duration) int {
	warmUpRuntime()
	before, err := OpenFDs()
	if err != nil {
		fmt.Fprintln(w, "fd leak check:", err)
		return 1
	}
	code := run()
	// Some descriptors are closed a little after the tests that opened
	// them return (go-plugin and gRPC close connections from their own
	// goroutines; finalizers close dropped files): wait, bounded, for the
	// set to settle before calling anything a leak.
	var leaked []string
	deadline := time.Now().Add(settle)
	for {
		after, err := OpenFDs()
		if err != nil {
			fmt.Fprintln(w, "fd leak check:", err)
			return 1
		}
		leaked = LeakedFDs(before, after)
		if len(leaked) == 0 || time.Now().After(deadline) {
			break
		}
		runtime.GC()
		time.Sleep(50 * time.Millisecond)
	}
	if len(leaked) > 0 {
		fmt.Fprintf(w, "FAIL: %d file descriptors leaked by the tests:\n", len(leaked))
		for _, l := range leaked {
			fmt.Fprintln(w, "\t"+l)
		}
		if code == 0 {
			code = 1
		}
	}
	return code
}
