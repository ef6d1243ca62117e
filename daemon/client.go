package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

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

// fromStatus maps a status error back to the sentinel it carried.
func fromStatus(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	for _, c := range codeOf {
		if st.Code() == c.code {
			return &remoteError{msg: st.Message(), sentinel: c.err}
		}
	}
	return errors.New(st.Message())
}

// remoteError is an error from the daemon: its message, unwrapping to the
// sentinel its status code stands for.
type remoteError struct {
	msg      string
	sentinel error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.sentinel }

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

// LoadRequest asks the daemon to load a program.
type LoadRequest struct {
	Interface string
	NetNS     string
	// Object is the BPF ELF object; ProgramName the XDP function in it
	// (empty: its only one).
	Object      []byte
	ProgramName string
	// Name in the chain (empty: ProgramName).
	Name string
	// Priority, ProceedOn and Allowed override the object's defaults when
	// set.
	Priority  *int
	ProceedOn *dispatcher.VerdictSet
	Allowed   *dispatcher.VerdictSet
	Shadow    bool
	// Force lets root replace another user's program.
	Force bool
	// Mode is used when the interface has no root yet.
	Mode dispatcher.Mode
}

// Loaded is a program as the daemon put it in the chain.
type Loaded struct {
	Name     string
	Priority int
	Owner    string
	// Allowed is the verdict limit in force (a grant may have narrowed it);
	// zero is every verdict.
	Allowed dispatcher.VerdictSet
}

// Load asks the daemon to load a program as the calling user. Errors wrap
// ErrPermission, ErrOwned, dispatcher.ErrInvalid, dispatcher.ErrLoad, ...
func (c *Client) Load(ctx context.Context, r LoadRequest) (*Loaded, error) {
	req := &controlpb.LoadRequest{
		Interface: r.Interface, Netns: r.NetNS, Object: r.Object, ProgramName: r.ProgramName,
		Name: r.Name, Shadow: r.Shadow, Force: r.Force, Mode: string(r.Mode),
	}
	if r.Priority != nil {
		v := int32(*r.Priority)
		req.Priority = &v
	}
	if r.ProceedOn != nil {
		v := uint32(*r.ProceedOn)
		req.ProceedOn = &v
	}
	if r.Allowed != nil {
		v := uint32(*r.Allowed)
		req.Allowed = &v
	}
	resp, err := c.c.Load(ctx, req)
	if err != nil {
		return nil, fromStatus(err)
	}
	return &Loaded{Name: resp.GetName(), Priority: int(resp.GetPriority()), Owner: resp.GetOwner(), Allowed: dispatcher.VerdictSet(resp.GetAllowed())}, nil
}

// UnloadRequest asks the daemon to remove programs.
type UnloadRequest struct {
	Interface string
	NetNS     string
	// Names to remove, or All: every program the caller may remove.
	Names []string
	All   bool
	// Force lets root remove other users' programs.
	Force bool
}

// Unload asks the daemon to remove programs and returns the names removed.
func (c *Client) Unload(ctx context.Context, r UnloadRequest) ([]string, error) {
	resp, err := c.c.Unload(ctx, &controlpb.UnloadRequest{Interface: r.Interface, Netns: r.NetNS, Names: r.Names, All: r.All, Force: r.Force})
	if err != nil {
		return nil, fromStatus(err)
	}
	return resp.GetRemoved(), nil
}
