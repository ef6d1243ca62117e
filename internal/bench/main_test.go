package bench

import (
	"os"
	"testing"

	"github.com/xdpchain/xdpchain/internal/testutil"
)

// TestMain fails the run when a suite leaks file descriptors.
func TestMain(m *testing.M) { os.Exit(testutil.RunWithFDCheck(m)) }
