package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/config"
	"github.com/xdpchain/xdpchain/daemon/controlpb"
	"github.com/xdpchain/xdpchain/dispatcher"
)

// Client talks to a running daemon over its control socket.
type Client struct {
	conn *grpc.ClientConn
	c    controlpb.ControlClient
}

// Dial connects to the daemon's control socket (config.DefaultSocket when
// socket is empty). It returns an error wrapping ErrNotRunning when no
// daemon listens there, so that callers can fall back to the pins.
func Dial(socket string) (*Client, error) {
	if socket == "" {
		socket = config.DefaultSocket
	}
	probe, err := net.DialTimeout("unix", socket, 2*time.Second)
	if err != nil {
		if isNotRunning(err) {
			return nil, fmt.Errorf("%w: %s", ErrNotRunning, socket)
		}
		return nil, fmt.Errorf("connecting to the daemon: %w", err)
	}
	probe.Close()
	conn, err := grpc.Dial("unix:"+socket,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(maxMessage), grpc.MaxCallRecvMsgSize(maxMessage)),
	)
	if err != nil {
		return nil, fmt.Errorf("connecting to the daemon: %w", err)
	}
	return &Client{conn: conn, c: controlpb.NewControlClient(conn)}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Status returns the daemon's status; iface and netns, when set, limit the
// interfaces.
func (c *Client) Status(ctx context.Context, iface, netns string) (*Status, error) {
	resp, err := c.c.Status(ctx, &controlpb.StatusRequest{Interface: iface, Netns: netns})
	if err != nil {
		return nil, fromStatus(err)
	}
	var st Status
	if err := json.Unmarshal(resp.GetStatusJson(), &st); err != nil {
		return nil, fmt.Errorf("decoding the daemon's status: %w", err)
	}
	return &st, nil
}

// Load asks the daemon to load a program as the calling user: the same
// operation as chain.LoadOn on the pins, with the caller's grants. Errors
// wrap chain.ErrPermission, chain.ErrOwned, chain.ErrExists,
// chain.ErrStale, dispatcher.ErrInvalid, dispatcher.ErrLoad, ...; a
// rejected program's error is a *dispatcher.ProgramError (with the
// verifier's log when asked for).
func (c *Client) Load(ctx context.Context, r chain.LoadRequest) (*chain.Loaded, error) {
	resp, err := c.c.Load(ctx, loadToProto(r))
	if err != nil {
		return nil, fromStatus(err)
	}
	return loadedFromProto(resp), nil
}

// Unload asks the daemon to remove programs.
func (c *Client) Unload(ctx context.Context, r chain.Unload) (*chain.Unloaded, error) {
	resp, err := c.c.Unload(ctx, unloadToProto(r))
	if err != nil {
		return nil, fromStatus(err)
	}
	return &chain.Unloaded{Removed: resp.GetRemoved(), Revision: resp.GetRevision()}, nil
}

// Detach asks the daemon to remove an interface's root and every pin.
func (c *Client) Adopt(ctx context.Context, r chain.Adopt) (*dispatcher.Adopted, error) {
	resp, err := c.c.Adopt(ctx, adoptToProto(r))
	if err != nil {
		return nil, fromStatus(err)
	}
	return adoptedFromProto(resp), nil
}

// Leave asks the daemon to leave one program attached by netlink and
// remove the root.
func (c *Client) Leave(ctx context.Context, r chain.Leave) (uint32, error) {
	resp, err := c.c.Leave(ctx, leaveToProto(r))
	if err != nil {
		return 0, fromStatus(err)
	}
	return resp.GetProgramId(), nil
}

// Detach asks the daemon to remove an interface's root.
func (c *Client) Detach(ctx context.Context, r chain.Detach) error {
	if _, err := c.c.Detach(ctx, detachToProto(r)); err != nil {
		return fromStatus(err)
	}
	return nil
}

// Explain asks the daemon to run a frame through an interface's chain
// (dispatcher.Root.Explain); root only.
func (c *Client) Explain(ctx context.Context, itf chain.Interface, frame []byte) (*dispatcher.Explanation, error) {
	resp, err := c.c.Explain(ctx, explainToProto(itf, frame))
	if err != nil {
		return nil, fromStatus(err)
	}
	var ex dispatcher.Explanation
	if err := json.Unmarshal(resp.GetExplanationJson(), &ex); err != nil {
		return nil, fmt.Errorf("decoding the daemon's explanation: %w", err)
	}
	return &ex, nil
}

// Reload asks the daemon to re-read its config file and apply it, and waits
// for the outcome: an error wrapping ErrReload says why it was refused (the
// previous config stays in force).
func (c *Client) Reload(ctx context.Context) (*ReloadResult, error) {
	resp, err := c.c.Reload(ctx, &controlpb.ReloadRequest{})
	if err != nil {
		return nil, fromStatus(err)
	}
	return &ReloadResult{Config: resp.GetConfig(), Interfaces: int(resp.GetInterfaces()), Plugins: int(resp.GetPlugins()),
		Programs: int(resp.GetPrograms()), RestartOnly: resp.GetRestartOnly()}, nil
}
