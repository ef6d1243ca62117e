package testutil

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/internal/testenv"
)

func TestXDPChainBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI")
	}
	bin := XDPChainBinary(t)
	stdout, _, err := RunXDPChain(t, bin, "--help")
	if err != nil || !strings.Contains(stdout, "xdpchain") {
		t.Fatalf("xdpchain --help: %v\n%s", err, stdout)
	}
	_, stderr, err := RunXDPChain(t, bin, "no-such-verb")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 || stderr == "" {
		t.Fatalf("an unknown verb: %v, stderr %q", err, stderr)
	}

	t.Setenv(testenv.Bin, bin)
	if got := XDPChainBinary(t); got != bin {
		t.Fatalf("with %s set: %s", testenv.Bin, got)
	}
}
