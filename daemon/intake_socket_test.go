package daemon_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/xdpchain/xdpchain/daemon"
	"github.com/xdpchain/xdpchain/daemon/controlpb"
	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/testutil"
)

// TestRequestSizeBounded: a Load whose message is larger than an object
// may be is refused by the socket before it is decoded (a client that
// raises its own send limit gets RESOURCE_EXHAUSTED), and an object over
// dispatcher.MaxObjectSize inside the limit is refused before it is
// parsed; the daemon's chain stays as it was.
func TestRequestSizeBounded(t *testing.T) {
	testutil.RequireRoot(t)
	send, recv := testutil.NewNetNSPrefix(t, "x9-"), testutil.NewNetNSPrefix(t, "x9-")
	f := newFixtureOn(t, send, recv, testutil.NewVethPair(t, send, recv, &testutil.VethOptions{NameA: "x9-a1", NameB: "x9-b1"}))
	f.writeConfig("", countConfig(0))
	f.start(daemon.Options{})
	conn, err := grpc.Dial("unix:"+f.socket(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := controlpb.NewControlClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name string
		size int
		code codes.Code
		msg  string
	}{
		{"message over the limit", dispatcher.MaxObjectSize + 4<<20, codes.ResourceExhausted, "larger than max"},
		{"object over the limit", dispatcher.MaxObjectSize + 1, codes.FailedPrecondition, "larger than the 16777216 allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj := make([]byte, tc.size)
			copy(obj, "\x7fELF")
			_, err := c.Load(ctx, &controlpb.LoadRequest{Interface: f.pair.B.Name, Netns: f.recv.Name, Object: obj, Name: "big"})
			if st, _ := status.FromError(err); st.Code() != tc.code || !strings.Contains(st.Message(), tc.msg) {
				t.Fatalf("a %d-byte object: %v; want %s saying %q", tc.size, err, tc.code, tc.msg)
			}
		})
	}
	if got := f.chain(); got != "count(config:count)" {
		t.Errorf("chain %q after the refused loads", got)
	}
}
