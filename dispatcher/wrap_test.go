package dispatcher_test

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/plugins/sdk"
	"github.com/xdpchain/xdpchain/xdp"
)

// TestErrorsKeepTheirCause checks the wrapping rule: an error says what
// failed (its sentinel) and keeps the cause, both for errors.Is/As.
func TestErrorsKeepTheirCause(t *testing.T) {
	// A truncated ELF object: ErrLoad, and the ELF reader's own error.
	obj := testprogs.Object(testprogs.Noop)[:80]
	_, err := dispatcher.NewProgram("cut", obj, "")
	if !errors.Is(err, dispatcher.ErrLoad) || !errors.Is(err, io.EOF) {
		t.Errorf("a truncated object: %v, want ErrLoad wrapping the reader's io.EOF", err)
	}

	// The dispatcher's "not supported" is cilium/ebpf's, with the reason.
	wrapped := fmt.Errorf("doing x: %w", dispatcher.ErrNotSupported)
	if !errors.Is(wrapped, ebpf.ErrNotSupported) || !errors.Is(wrapped, dispatcher.ErrNotSupported) {
		t.Errorf("%v: want both dispatcher.ErrNotSupported and ebpf.ErrNotSupported", wrapped)
	}
	if got := dispatcher.ErrNotSupported.Error(); got != "not supported by this kernel" {
		t.Errorf("ErrNotSupported says %q", got)
	}

	// One permission error, whichever layer refuses.
	err = chain.MayChange(chain.Actor{UID: 1000}, "user:1001", false)
	for _, want := range []error{chain.ErrPermission, sdk.ErrPermission, xdp.ErrPermission} {
		if !errors.Is(err, want) {
			t.Errorf("MayChange of another user's program: %v, want errors.Is %v", err, want)
		}
	}

	// An interface reference that names none is not an invalid chain.
	if _, err := chain.ParseInterface("blue/"); !errors.Is(err, chain.ErrInterfaceRef) || errors.Is(err, dispatcher.ErrInvalid) {
		t.Errorf("ParseInterface(blue/): %v, want ErrInterfaceRef only", err)
	}
}
