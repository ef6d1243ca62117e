package nlretry

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
)

func TestDump(t *testing.T) {
	other := errors.New("other")
	for _, tc := range []struct {
		name        string
		interrupted int   // dumps interrupted before the outcome
		outcome     error // of the first dump not interrupted
		want        []int
		wantErr     error
		calls       int
	}{
		{"first try", 0, nil, []int{1}, nil, 1},
		{"interrupted twice", 2, nil, []int{1}, nil, 3},
		{"other error, not retried", 0, other, []int{1}, other, 1},
		{"interrupted, then another error", 1, other, []int{1}, other, 2},
		{"always interrupted", Attempts, nil, nil, netlink.ErrDumpInterrupted, Attempts},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			got, err := Dump(func() ([]int, error) {
				calls++
				if calls <= tc.interrupted {
					return []int{0}, netlink.ErrDumpInterrupted // partial results
				}
				return []int{1}, tc.outcome
			})
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Errorf("error %v, want %v", err, tc.wantErr)
			}
			if len(got) != len(tc.want) || (len(got) == 1 && got[0] != tc.want[0]) {
				t.Errorf("result %v, want %v", got, tc.want)
			}
			if calls != tc.calls {
				t.Errorf("%d dumps, want %d", calls, tc.calls)
			}
			if tc.interrupted == Attempts && !strings.Contains(err.Error(), "interrupted 10 times in a row") {
				t.Errorf("error %q does not say how often", err)
			}
		})
	}
}

// dumpCall matches a call of a vishvananda/netlink function or method that
// dumps a table.
var dumpCall = regexp.MustCompile(`\.(LinkList|AddrList|RouteList|RouteListFiltered|RouteListFilteredIter|NeighList|NeighListExecute|NeighProxyList|RuleList|RuleListFiltered|QdiscList|ClassList|FilterList|XfrmStateList|XfrmPolicyList|BridgeVlanList|ConntrackTableList|LinkListFiltered)\(`)

// TestEveryDumpRetried reads the module's Go files: every netlink dump goes
// through Dump (the same line names nlretry.Dump), so that none fails on an
// interrupted dump.
func TestEveryDumpRetried(t *testing.T) {
	root := filepath.Join("..", "..")
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Skipf("no source tree here (a test binary run elsewhere, as in the VMs): %v", err)
	}
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && (e.Name() == ".git" || e.Name() == "vendor" || e.Name() == "testdata") {
			return filepath.SkipDir
		}
		if e.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "nlretry_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			if dumpCall.MatchString(line) && !strings.Contains(line, "nlretry.Dump") && !strings.HasPrefix(strings.TrimSpace(line), "//") {
				t.Errorf("%s:%d: a netlink dump not retried with nlretry.Dump: %s", path, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
