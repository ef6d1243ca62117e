package daemon_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/xdpchain/xdpchain/daemon"
	"github.com/xdpchain/xdpchain/internal/testprogs"
)

// envChild makes the test binary act as a control-socket client: it runs
// the operations (JSON) in the variable against the socket in
// envChildSocket and prints the results as JSON.
const (
	envChild       = "XDPCHAIN_DAEMON_TEST_CHILD"
	envChildSocket = "XDPCHAIN_DAEMON_TEST_SOCKET"
)

type childOp struct {
	Load      bool   `json:"load"` // else unload
	Interface string `json:"interface"`
	NetNS     string `json:"netns"`
	Name      string `json:"name"`
	Priority  int    `json:"priority"`
}

type childResult struct {
	Err        string `json:"err,omitempty"`
	Permission bool   `json:"permission,omitempty"`
	Owned      bool   `json:"owned,omitempty"`
	Owner      string `json:"owner,omitempty"`
	Allowed    string `json:"allowed,omitempty"`
	Removed    []string
}

func childMain() int {
	var ops []childOp
	if err := json.Unmarshal([]byte(os.Getenv(envChild)), &ops); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	c, err := daemon.Dial(os.Getenv(envChildSocket))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer c.Close()
	var out []childResult
	for _, op := range ops {
		var r childResult
		var err error
		if op.Load {
			prio := op.Priority
			var l *daemon.Loaded
			l, err = c.Load(context.Background(), daemon.LoadRequest{
				Interface: op.Interface, NetNS: op.NetNS, Name: op.Name, Priority: &prio,
				Object: testprogs.Object("noop"), ProgramName: testprogs.Program("noop"),
			})
			if err == nil {
				r.Owner, r.Allowed = l.Owner, l.Allowed.String()
			}
		} else {
			r.Removed, err = c.Unload(context.Background(), daemon.UnloadRequest{Interface: op.Interface, NetNS: op.NetNS, Names: []string{op.Name}})
		}
		if err != nil {
			r.Err = err.Error()
			r.Permission = errors.Is(err, daemon.ErrPermission)
			r.Owned = errors.Is(err, daemon.ErrOwned)
		}
		out = append(out, r)
	}
	json.NewEncoder(os.Stdout).Encode(out)
	return 0
}
