package testutil

import (
	"os"
	"testing"
)

func TestRequireRoot(t *testing.T) {
	ran := false
	t.Run("root", func(t *testing.T) {
		RequireRoot(t)
		ran = true
	})
	if os.Geteuid() == 0 && !ran {
		t.Fatal("RequireRoot stopped a test running as root")
	}
	if os.Geteuid() != 0 && ran {
		t.Fatal("RequireRoot let a test run without root")
	}
}
