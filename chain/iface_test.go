package chain

import (
	"errors"
	"testing"

	"github.com/xdpchain/xdpchain/dispatcher"
)

func TestInterfaceCanonical(t *testing.T) {
	for _, tc := range []struct{ netns, name, ref string }{
		{"", "eth0", "eth0"},
		{"blue", "eth0", "blue/eth0"},
		{"/run/netns/blue", "eth0", "blue/eth0"},
		{"/run/netns//blue/", "eth0", "blue/eth0"},
		{"/proc/42/ns/net", "eth0", "/proc/42/ns/net/eth0"},
		{"/run/netns/a/b", "eth0", "/run/netns/a/b/eth0"},
	} {
		itf := NewInterface(tc.netns, tc.name)
		if got := itf.String(); got != tc.ref {
			t.Errorf("NewInterface(%q, %q) = %q, want %q", tc.netns, tc.name, got, tc.ref)
		}
		back, err := ParseInterface(tc.ref)
		if err != nil || back != itf {
			t.Errorf("ParseInterface(%q) = %+v, %v; want %+v", tc.ref, back, err, itf)
		}
	}
	if NewInterface("blue", "x") != NewInterface("/run/netns/blue", "x") {
		t.Error("a namespace by name and by its /run/netns path are different interfaces")
	}
	for _, bad := range []string{"", "blue/", "/eth0"} {
		if _, err := ParseInterface(bad); !errors.Is(err, ErrInterfaceRef) || errors.Is(err, dispatcher.ErrInvalid) {
			t.Errorf("ParseInterface(%q): %v, want ErrInterfaceRef (not ErrInvalid)", bad, err)
		}
	}
}
