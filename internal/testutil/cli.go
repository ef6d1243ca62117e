package testutil

import (
	"bytes"
	"context"
	"os/exec"
	"testing"
	"time"
)

// cliTimeout bounds one xdpchain invocation.
const cliTimeout = 2 * time.Minute

// RunXDPChain runs bin with args and returns what it printed. err is the
// *exec.ExitError of a non-zero exit, or why it could not run.
func RunXDPChain(tb testing.TB, bin string, args ...string) (stdout, stderr string, err error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}
