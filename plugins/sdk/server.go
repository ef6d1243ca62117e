package sdk

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/xdpchain/xdpchain/plugins/internal/contract"
	"github.com/xdpchain/xdpchain/plugins/internal/rawmap"
	pluginpb "github.com/xdpchain/xdpchain/plugins/proto"
)

// GRPCPlugin returns the go-plugin adapter that serves p: what Serve
// serves. It is for the in-process tests of the daemon's side
// (plugins/host, with go-plugin's TestPluginGRPCConn); a plugin's main
// calls Serve. Its type is internal to xdpchain's module: plugin authors
// never handle go-plugin types.
func GRPCPlugin(p Plugin) *contract.GRPCPlugin {
	return &contract.GRPCPlugin{
		NewServer: func(b *plugin.GRPCBroker) pluginpb.PluginServer { return newServer(p, b) },
	}
}

// server adapts a Plugin to the generated PluginServer.
type server struct {
	pluginpb.UnimplementedPluginServer
	p      Plugin
	broker *plugin.GRPCBroker

	mu       sync.Mutex // serializes Configure
	conn     *grpc.ClientConn
	brokerID uint32
	maps     *Maps
	leaves   map[string]*Map // every interface's copy of every map, by handle
}

func newServer(p Plugin, broker *plugin.GRPCBroker) *server {
	return &server{p: p, broker: broker}
}

func (s *server) Describe(context.Context, *pluginpb.DescribeRequest) (*pluginpb.Description, error) {
	d := s.p.Describe()
	if err := d.validate(); err != nil {
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	out := &pluginpb.Description{
		Name:           d.Name,
		Version:        d.Version,
		Object:         d.Object,
		ProgramName:    d.ProgramName,
		Frags:          d.Frags,
		SecretSettings: d.SecretSettings,
	}
	if d.Priority != 0 {
		p := int32(d.Priority)
		out.Priority = &p
	}
	if d.ProceedOn != nil {
		b := verdictBits(d.ProceedOn)
		out.ProceedOn = &b
	}
	if d.Allowed != nil {
		b := verdictBits(d.Allowed)
		out.Allowed = &b
	}
	return out, nil
}

// dial connects to the host's broker server once per broker id.
func (s *server) dial(id uint32) error {
	if id == 0 || id == s.brokerID {
		return nil
	}
	if s.broker == nil {
		return fmt.Errorf("no broker to reach host services %d", id)
	}
	conn, err := s.broker.Dial(id)
	if err != nil {
		return fmt.Errorf("dialing host services %d: %w", id, err)
	}
	if s.conn != nil {
		s.conn.Close()
	}
	s.conn, s.brokerID = conn, id
	return nil
}

// openMaps builds the Maps of a ConfigureRequest, reusing the previous *Map
// of a handle when it still serves (same pin, sizes and access mode), and
// returns them with the new set of leaves.
func (s *server) openMaps(req *pluginpb.ConfigureRequest) (_ *Maps, _ map[string]*Map, err error) {
	leaves := make(map[string]*Map)
	defer func() {
		if err != nil {
			closeLeaves(leaves, s.leaves)
		}
	}()
	top := &Maps{maps: make(map[string]*Map), ifaces: make(map[string]*Maps)}
	for _, h := range req.GetMaps() {
		handle := h.GetHandle()
		if handle == "" {
			handle = h.GetName()
		}
		m, ok := s.leaves[handle]
		if !ok || !reusable(m, h, req.GetAccess()) {
			if m, err = s.openMap(h, handle, req.GetAccess()); err != nil {
				return nil, nil, err
			}
		}
		leaves[handle] = m
		one := top.ifaces[h.GetInterface()]
		if one == nil {
			one = &Maps{maps: make(map[string]*Map)}
			top.ifaces[h.GetInterface()] = one
		}
		one.maps[h.GetName()] = m
	}
	// By name: the one copy, or a fan-out over every interface's copy
	// (reused when its members did not change).
	members := make(map[string][]*Map)
	for _, iface := range top.Interfaces() {
		for name, m := range top.ifaces[iface].maps {
			members[name] = append(members[name], m)
		}
	}
	for name, ms := range members {
		if len(ms) == 1 {
			top.maps[name] = ms[0]
			continue
		}
		if prev, ok := s.maps.lookup(name); ok {
			if f, ok := prev.b.(*fanout); ok && slices.Equal(f.members, ms) {
				top.maps[name] = prev
				continue
			}
		}
		top.maps[name] = newFanout(ms)
	}
	return top, leaves, nil
}

// closeLeaves closes the maps of leaves that are not in keep.
func closeLeaves(leaves, keep map[string]*Map) {
	for h, m := range leaves {
		if keep[h] != m {
			m.b.Close()
		}
	}
}

// reusable reports whether the *Map of a previous Configure serves handle
// h with access as it is.
func reusable(prev *Map, h *pluginpb.MapHandle, access pluginpb.MapAccess) bool {
	if prev.pinPath != h.GetPinPath() || prev.info.KeySize != h.GetKeySize() || prev.info.ValueSize != h.GetValueSize() ||
		prev.info.PerCPU != h.GetPerCpu() || prev.info.PossibleCPUs != int(h.GetPossibleCpus()) {
		return false
	}
	switch access {
	case pluginpb.MapAccess_MAP_ACCESS_DIRECT:
		return prev.info.Direct
	case pluginpb.MapAccess_MAP_ACCESS_BROKER:
		return !prev.info.Direct
	}
	return true
}

func (s *server) openMap(h *pluginpb.MapHandle, handle string, access pluginpb.MapAccess) (*Map, error) {
	info := MapInfo{
		Name:         h.GetName(),
		Type:         ebpf.MapType(h.GetType()),
		KeySize:      h.GetKeySize(),
		ValueSize:    h.GetValueSize(),
		MaxEntries:   h.GetMaxEntries(),
		PerCPU:       h.GetPerCpu(),
		PossibleCPUs: int(h.GetPossibleCpus()),
	}
	var directErr error
	if access != pluginpb.MapAccess_MAP_ACCESS_BROKER && h.GetPinPath() != "" {
		d, err := rawmap.OpenPinned(h.GetName(), h.GetPinPath())
		if err == nil {
			if d.KeySize != info.KeySize || d.FullValueSize() != rawInfo(info).FullValueSize() {
				d.Close()
				return nil, fmt.Errorf("map %s: pinned map at %s does not match the daemon's description", h.GetName(), h.GetPinPath())
			}
			info.Direct = true
			return &Map{info: info, pinPath: h.GetPinPath(), b: d}, nil
		}
		directErr = err
		if access == pluginpb.MapAccess_MAP_ACCESS_DIRECT {
			return nil, err
		}
	}
	if s.conn == nil {
		if directErr != nil {
			return nil, fmt.Errorf("map %s: %w, and the daemon offers no broker", h.GetName(), directErr)
		}
		return nil, fmt.Errorf("map %s: no pin path and no broker", h.GetName())
	}
	return &Map{info: info, pinPath: h.GetPinPath(), b: &brokerMap{name: handle, client: pluginpb.NewMapsClient(s.conn)}}, nil
}

func rawInfo(i MapInfo) rawmap.Info {
	return rawmap.Info{KeySize: i.KeySize, ValueSize: i.ValueSize, PerCPU: i.PerCPU, PossibleCPUs: i.PossibleCPUs}
}

func (s *Maps) lookup(name string) (*Map, bool) {
	if s == nil {
		return nil, false
	}
	m, ok := s.maps[name]
	return m, ok
}

func (s *server) Configure(ctx context.Context, req *pluginpb.ConfigureRequest) (*pluginpb.ConfigureResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.dial(req.GetBrokerId()); err != nil {
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	maps, leaves, err := s.openMaps(req)
	if err != nil {
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	var host *Host
	if s.conn != nil {
		host = &Host{client: pluginpb.NewHostClient(s.conn)}
	}
	if err := s.p.Configure(ctx, Settings{raw: req.GetSettingsJson()}, maps, host); err != nil {
		closeLeaves(leaves, s.leaves)
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	closeLeaves(s.leaves, leaves)
	s.maps, s.leaves = maps, leaves
	return &pluginpb.ConfigureResponse{}, nil
}

func (s *server) Health(ctx context.Context, _ *pluginpb.HealthRequest) (*pluginpb.HealthResponse, error) {
	if err := s.p.Health(ctx); err != nil {
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	return &pluginpb.HealthResponse{Message: "ok"}, nil
}

func (s *server) Validate(ctx context.Context, req *pluginpb.ValidateRequest) (*pluginpb.ValidateResponse, error) {
	v, ok := s.p.(Validator)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "the plugin does not validate settings before applying them")
	}
	if err := v.Validate(ctx, Settings{raw: req.GetSettingsJson()}); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &pluginpb.ValidateResponse{}, nil
}
