package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/api"
	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/dispatcher"
)

// TestHintsBothPaths: the CLI names the flag for an error the library
// reports without one, the same for an error made here and one that
// crossed the daemon's socket.
func TestHintsBothPaths(t *testing.T) {
	noop := dispatcher.Program{Name: "a", Object: []byte("x"), Owner: "user:1000"}
	spec := &dispatcher.Spec{Programs: dispatcher.Chain{noop}}
	exists := chain.Load{Interface: chain.NewInterface("", "eth0"), Program: noop}.Apply(spec, chain.Actor{UID: 1000})
	for _, tc := range []struct {
		err  error
		flag string
	}{
		{exists, "--replace"},
		{chain.MayChange(chain.Actor{UID: 0}, "user:1000", false), "--force"},
		{chain.Unload{Interface: chain.NewInterface("", "eth0")}.Validate(), "--name or --all"},
		{fmt.Errorf("%w: /sys/fs/bpf is not a bpffs and this process runs in a %w", dispatcher.ErrNoBPFFS, dispatcher.ErrPrivateMountNS), "--netns"},
		{fmt.Errorf("%w: the kernel refused to swap: %w, then load", dispatcher.ErrInvalid, dispatcher.ErrRootMustBeRecreated), "xdpchain detach"},
	} {
		if tc.err == nil {
			t.Fatalf("no error for %s", tc.flag)
		}
		if strings.Contains(tc.err.Error(), "--") {
			t.Errorf("the library's error names a flag: %v", tc.err)
		}
		local, remote := hint(tc.err), hint(api.ErrorFromStatus(api.ErrorToStatus(tc.err)))
		if !strings.Contains(local, tc.flag) || local != remote {
			t.Errorf("%v: hint %q here, %q through a daemon; want both naming %s", tc.err, local, remote, tc.flag)
		}
	}
	if h := hint(chain.MayChange(chain.Actor{UID: 1000}, "user:1001", true)); h != "" {
		t.Errorf("a refusal no flag overrides got the hint %q", h)
	}
	if h := hint(errors.New("plain")); h != "" {
		t.Errorf("a plain error got the hint %q", h)
	}
}
