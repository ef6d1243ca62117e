package crashpoint

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// envChild makes the test binary reach steps with a Killer instead of
// running the tests.
const envChild = "XDPCHAIN_CRASHPOINT_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(envChild) != "" {
		k := Kill("b", 2)
		for _, step := range []string{"a", "b", "a", "b", "c"} {
			fmt.Println("reached", step)
			At(k, step)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestKill: the Killer ends the process with SIGKILL at the second "b",
// not before; a nil observer is told nothing.
func TestKill(t *testing.T) {
	At(nil, "a") // no observer: nothing happens

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"=1")
	out, err := cmd.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || !ee.Sys().(syscall.WaitStatus).Signaled() || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the child was not killed: %v\n%s", err, out)
	}
	if got, want := strings.Fields(string(out)), strings.Fields("reached a reached b reached a reached b"); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("the child reached %q before it died, want %q", got, want)
	}
}
