package vmtest

import (
	"testing"

	"github.com/xdpchain/xdpchain/internal/testenv"
)

func TestWhere(t *testing.T) {
	for _, tc := range []struct{ env, want string }{
		{"", "host"},
		{"host", "host"},
		{"vm:6.1.0-56-amd64", "vm:6.1.0-56-amd64"},
		{"vmx", "host"},
	} {
		t.Setenv(testenv.Test, tc.env)
		if got := Where(); got != tc.want {
			t.Errorf("Where() with %s=%q = %q, want %q", testenv.Test, tc.env, got, tc.want)
		}
		if got := InVM(); got != (tc.want != "host") {
			t.Errorf("InVM() with %s=%q = %v", testenv.Test, tc.env, got)
		}
	}
}
