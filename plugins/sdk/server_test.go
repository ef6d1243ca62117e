package sdk

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/xdpchain/xdpchain/plugins/internal/bpffstest"
	"github.com/xdpchain/xdpchain/plugins/internal/contract"
	pluginpb "github.com/xdpchain/xdpchain/plugins/proto"
)

type recorder struct {
	desc     Description
	settings Settings
	maps     *Maps
	host     *Host
	fail     error
}

func (r *recorder) Describe() Description { return r.desc }
func (r *recorder) Configure(_ context.Context, s Settings, m *Maps, h *Host) error {
	if r.fail != nil {
		return r.fail
	}
	r.settings, r.maps, r.host = s, m, h
	return nil
}
func (r *recorder) Health(context.Context) error { return r.fail }

// connect serves p over plugin.TestPluginGRPCConn and returns the raw gRPC
// client of the contract, as the host sees it.
func connect(t *testing.T, p Plugin) pluginpb.PluginClient {
	t.Helper()
	gp := GRPCPlugin(p)
	client, _ := plugin.TestPluginGRPCConn(t, true, contract.VersionedPlugins(gp)[contract.ProtocolVersion])
	t.Cleanup(func() { client.Close() })
	raw, err := client.Dispense(contract.PluginName)
	if err != nil {
		t.Fatal(err)
	}
	return raw.(*contract.Client).Plugin
}

func TestServerDescribe(t *testing.T) {
	r := &recorder{desc: Description{Name: "n", Version: "v", Object: []byte{1, 2}, ProgramName: "f", Allowed: []Verdict{Drop}}}
	c := connect(t, r)
	d, err := c.Describe(context.Background(), &pluginpb.DescribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Priority != nil || d.ProceedOn != nil {
		t.Errorf("unset defaults sent: priority %v proceed-on %v", d.Priority, d.ProceedOn)
	}
	if d.Allowed == nil || d.GetAllowed() != 1<<Drop || d.GetName() != "n" || string(d.GetObject()) != "\x01\x02" {
		t.Errorf("description %v", d)
	}

	r.desc.Priority, r.desc.ProceedOn = -5, []Verdict{}
	d, err = c.Describe(context.Background(), &pluginpb.DescribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if d.GetPriority() != -5 || d.ProceedOn == nil || d.GetProceedOn() != 0 {
		t.Errorf("explicit values: priority %v proceed-on %v", d.Priority, d.ProceedOn)
	}

	r.desc.Object = nil
	_, err = c.Describe(context.Background(), &pluginpb.DescribeRequest{})
	if status.Code(err) != codes.FailedPrecondition {
		t.Errorf("invalid description: %v", err)
	}
}

func TestServerConfigure(t *testing.T) {
	dir := bpffstest.Dir(t)
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	pin := filepath.Join(dir, "arr")
	if err := m.Pin(pin); err != nil {
		t.Fatal(err)
	}
	r := &recorder{desc: Description{Name: "n", Object: []byte{1}, ProgramName: "f"}}
	c := connect(t, r)
	req := &pluginpb.ConfigureRequest{
		SettingsJson: []byte(`{"a": 1}`),
		Maps:         []*pluginpb.MapHandle{{Name: "arr", PinPath: pin, Type: uint32(ebpf.Array), KeySize: 4, ValueSize: 4, MaxEntries: 2}},
		Access:       pluginpb.MapAccess_MAP_ACCESS_DIRECT,
	}
	if _, err := c.Configure(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if string(r.settings.JSON()) != `{"a": 1}` || r.host != nil {
		t.Errorf("settings %s, host %v", r.settings.JSON(), r.host)
	}
	arr, err := r.maps.Map("arr")
	if err != nil {
		t.Fatal(err)
	}
	if err := arr.Put(uint32(1), uint32(42)); err != nil {
		t.Fatal(err)
	}
	var v uint32
	if err := m.Lookup(uint32(1), &v); err != nil || v != 42 {
		t.Errorf("kernel map holds %d, %v", v, err)
	}

	// The same map in the next Configure is the same *Map.
	first := arr
	if _, err := c.Configure(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if again, _ := r.maps.Map("arr"); again != first {
		t.Error("map reopened although its pin did not change")
	}

	// A description that does not match the pin is refused.
	req.Maps = []*pluginpb.MapHandle{{Name: "arr", PinPath: pin, Type: uint32(ebpf.Array), KeySize: 4, ValueSize: 8, MaxEntries: 2}}
	if _, err := c.Configure(context.Background(), req); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("mismatched map: %v", err)
	}

	// Broker access without a broker id cannot work.
	req.Maps[0] = &pluginpb.MapHandle{Name: "arr", PinPath: pin, KeySize: 4, ValueSize: 4}
	req.Access = pluginpb.MapAccess_MAP_ACCESS_BROKER
	if _, err := c.Configure(context.Background(), req); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("broker access without broker: %v", err)
	}

	// The plugin's own refusal and ill health carry its message.
	r.fail = errors.New("prefix 300.0.0.0/8 is not a prefix")
	req.Access = pluginpb.MapAccess_MAP_ACCESS_DIRECT
	if _, err := c.Configure(context.Background(), req); status.Code(err) != codes.InvalidArgument || status.Convert(err).Message() != r.fail.Error() {
		t.Errorf("refused configure: %v", err)
	}
	if _, err := c.Health(context.Background(), &pluginpb.HealthRequest{}); status.Code(err) != codes.Unavailable {
		t.Errorf("unhealthy: %v", err)
	}
}
