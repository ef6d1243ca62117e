package client

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/xdpchain/xdpchain/api"
	"github.com/xdpchain/xdpchain/daemon/controlpb"
	"github.com/xdpchain/xdpchain/dispatcher"
)

// v030StatusJSON is a status as a v0.3.0 daemon sent it: its daemon.Status
// marshalled as JSON (json.Marshal of that release's types), in field 1
// (status_json) of StatusResponse.
const v030StatusJSON = `{"config":"/etc/xdpchain/config.toml","interfaces":[{"name":"eth0","ifindex":3,"netns":"blue","netns_inode":4026531840,` +
	`"mode":"native","mechanism":"linked","link_id":7,"dispatcher_id":8,"generation":9,"revision":9,"fallthrough":"drop","fallthrough_packets":11,` +
	`"programs":[{"slot":0,"name":"a","priority":10,"proceed_on":["pass"],"program":"xdp_a","program_id":12,"owner":"plugin:a","version":"1.0",` +
	`"object_sha256":"abc","stats":{"aborted":1,"drop":2,"pass":3,"tx":4,"redirect":5,"invalid":6,"denied":7}}]}],` +
	`"plugins":[{"name":"a","interface":"blue/eth0","state":"running","pid":42,"version":"1.0","on_exit":"restart","restarts":2,"since":"2023-11-14T22:13:20.000000005Z"}]}`

// oldDaemon answers Status as a v0.3.0 daemon did: the response's bytes
// are written field by field (field 1, bytes), not by this release's
// message.
type oldDaemon struct {
	controlpb.UnimplementedControlServer
}

func (oldDaemon) Status(context.Context, *controlpb.StatusRequest) (*controlpb.StatusResponse, error) {
	b := protowire.AppendTag(nil, 1, protowire.BytesType)
	b = protowire.AppendBytes(b, []byte(v030StatusJSON))
	var resp controlpb.StatusResponse
	if err := proto.Unmarshal(b, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// TestRemoteStatusOfV030Daemon: during a rolling upgrade a new client meets
// a daemon up to v0.3.0, which sends the status as JSON: Remote.Status reads
// it (api.StatusFromProto's fallback), every field as the old daemon meant.
func TestRemoteStatusOfV030Daemon(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "xdpchain.sock")
	l, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	controlpb.RegisterControlServer(srv, oldDaemon{})
	go srv.Serve(l)
	t.Cleanup(srv.Stop)

	r, err := Dial(socket)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	st, err := r.Status(context.Background(), nil)
	if err != nil {
		t.Fatalf("status of a v0.3.0 daemon: %v", err)
	}
	if st.Daemon.Config != "/etc/xdpchain/config.toml" || len(st.Interfaces) != 1 || len(st.Daemon.Plugins) != 1 {
		t.Fatalf("status %+v", st.Daemon)
	}
	itf := st.Interfaces[0]
	if itf.Name != "eth0" || itf.Ifindex != 3 || itf.NetNS != "blue" || itf.NetNSInode != 4026531840 || itf.Mode != dispatcher.ModeNative ||
		itf.Mechanism != dispatcher.Linked || itf.LinkID != 7 || itf.DispatcherID != 8 || itf.Revision != 9 ||
		itf.Fallthrough != "drop" || itf.FallthroughPackets != 11 || len(itf.Programs) != 1 {
		t.Errorf("interface %+v", itf)
	}
	p := itf.Programs[0]
	if p.Name != "a" || p.Priority != 10 || p.Program != "xdp_a" || p.ProgramID != 12 || p.Owner != "plugin:a" || p.Object != "abc" ||
		p.Stats != (dispatcher.Stats{Aborted: 1, Drop: 2, Pass: 3, TX: 4, Redirect: 5, Invalid: 6, Denied: 7}) {
		t.Errorf("program %+v", p)
	}
	pl := st.Daemon.Plugins[0]
	if pl.Name != "a" || pl.Interface != "blue/eth0" || pl.State != api.StateRunning || pl.PID != 42 || pl.Restarts != 2 ||
		!pl.Since.Equal(time.Unix(1700000000, 5)) {
		t.Errorf("plugin %+v", pl)
	}
	if proc := st.Daemon.Process(&itf, &p); proc == nil || proc.PID != 42 {
		t.Errorf("the program's process: %+v", proc)
	}
}
