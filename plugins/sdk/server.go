package sdk

import (
	"context"
	"fmt"
	"sync"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/xdpchain/xdpchain/plugins/internal/contract"
	"github.com/xdpchain/xdpchain/plugins/internal/rawmap"
	pluginpb "github.com/xdpchain/xdpchain/plugins/proto"
)

func init() {
	// Lets the host package's in-process tests serve an sdk.Plugin without
	// this package exporting go-plugin types.
	contract.NewPluginServer = func(p any, broker *plugin.GRPCBroker) pluginpb.PluginServer {
		return newServer(p.(Plugin), broker)
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
		Name:        d.Name,
		Version:     d.Version,
		Object:      d.Object,
		ProgramName: d.ProgramName,
		Frags:       d.Frags,
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
// of a name when its pin path and access mode are unchanged.
func (s *server) openMaps(req *pluginpb.ConfigureRequest) (_ *Maps, err error) {
	out := &Maps{maps: make(map[string]*Map)}
	defer func() {
		if err != nil {
			out.closeExcept(s.maps)
		}
	}()
	for _, h := range req.GetMaps() {
		if prev, ok := s.maps.lookup(h.GetName()); ok && reusable(prev, h, req.GetAccess()) {
			out.maps[h.GetName()] = prev
			continue
		}
		m, err := s.openMap(h, req.GetAccess())
		if err != nil {
			return nil, err
		}
		out.maps[h.GetName()] = m
	}
	return out, nil
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

func (s *server) openMap(h *pluginpb.MapHandle, access pluginpb.MapAccess) (*Map, error) {
	info := MapInfo{
		Name:         h.GetName(),
		Type:         ebpfMapType(h.GetType()),
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
	return &Map{info: info, pinPath: h.GetPinPath(), b: &brokerMap{name: h.GetName(), client: pluginpb.NewMapsClient(s.conn)}}, nil
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
	maps, err := s.openMaps(req)
	if err != nil {
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	var host *Host
	if s.conn != nil {
		host = &Host{client: pluginpb.NewHostClient(s.conn)}
	}
	if err := s.p.Configure(ctx, Settings{raw: req.GetSettingsJson()}, maps, host); err != nil {
		maps.closeExcept(s.maps)
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	s.maps.closeExcept(maps)
	s.maps = maps
	return &pluginpb.ConfigureResponse{}, nil
}

func (s *server) Health(ctx context.Context, _ *pluginpb.HealthRequest) (*pluginpb.HealthResponse, error) {
	if err := s.p.Health(ctx); err != nil {
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	return &pluginpb.HealthResponse{Message: "ok"}, nil
}
