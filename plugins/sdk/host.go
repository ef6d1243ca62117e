package sdk

import (
	"context"
	"encoding/json"
	"fmt"

	"google.golang.org/grpc/status"

	pluginpb "github.com/xdpchain/xdpchain/plugins/proto"
)

// Host is the plugin's handle on the daemon. Each accepted request is one
// atomic chain swap done by the daemon; the call returns when the daemon has
// done it or refused (ErrRefused, with the daemon's reason). A Host stays
// valid after Configure returns and may be used from any goroutine.
type Host struct {
	client pluginpb.HostClient
}

// Replacement is a new program for the plugin's chain entry.
type Replacement struct {
	// Object is the new BPF ELF object.
	Object []byte
	// ProgramName is the XDP function in Object.
	ProgramName string
	// Version is the plugin's version string to report for the new program.
	Version string
}

func hostError(what string, err error) error {
	if st, ok := status.FromError(err); ok {
		return fmt.Errorf("%s: %w: %s", what, ErrRefused, st.Message())
	}
	return fmt.Errorf("%s: %w", what, err)
}

// RequestReplace asks the daemon to replace the plugin's program with r. The
// daemon loads the new object into a new dispatcher generation and swaps it
// in atomically; the plugin's maps that exist in both objects keep their
// state.
func (h *Host) RequestReplace(ctx context.Context, r Replacement) error {
	if h == nil || h.client == nil {
		return fmt.Errorf("requesting replace: %w", ErrNoHost)
	}
	_, err := h.client.RequestReplace(ctx, &pluginpb.ReplaceRequest{
		Object: r.Object, ProgramName: r.ProgramName, Version: r.Version,
	})
	if err != nil {
		return hostError("requesting replace", err)
	}
	return nil
}

// RequestSettings asks the daemon to change the plugin's settings to
// settings (a value that marshals to a JSON object). When the daemon accepts
// it calls Configure with them.
func (h *Host) RequestSettings(ctx context.Context, settings any) error {
	if h == nil || h.client == nil {
		return fmt.Errorf("requesting settings: %w", ErrNoHost)
	}
	raw, err := json.Marshal(settings)
	if err != nil {
		return fmt.Errorf("requesting settings: encoding: %w", err)
	}
	if _, err := h.client.RequestSettings(ctx, &pluginpb.SettingsRequest{SettingsJson: raw}); err != nil {
		return hostError("requesting settings", err)
	}
	return nil
}
