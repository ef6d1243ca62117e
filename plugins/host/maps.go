package host

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/xdpchain/xdpchain/plugins/internal/rawmap"
	pluginpb "github.com/xdpchain/xdpchain/plugins/proto"
)

// mapTable holds a plugin's maps, opened by the host, by handle
// ("<interface>/<name>", or the name for the unnamed interface). It is what
// the Maps service may touch: nothing else.
type mapTable struct {
	mu     sync.RWMutex
	maps   map[string]*tableEntry
	closed bool // the plugin exited: no more maps are opened
}

type tableEntry struct {
	iface string
	*rawmap.Direct
}

func newMapTable() *mapTable { return &mapTable{maps: make(map[string]*tableEntry)} }

// handle is the Maps service's name for a map of an interface.
func handle(iface, name string) string {
	if iface == "" {
		return name
	}
	return iface + "/" + name
}

// set replaces the table with the maps pinned at the given paths
// (interface -> map name -> pin path), keeping maps whose path did not
// change open.
func (t *mapTable) set(pins map[string]map[string]string) (err error) {
	next := make(map[string]*tableEntry)
	t.mu.RLock()
	prev := t.maps
	t.mu.RUnlock()
	defer func() {
		if err != nil {
			for h, e := range next {
				if prev[h] != e {
					e.Close()
				}
			}
		}
	}()
	for iface, maps := range pins {
		if strings.Contains(iface, "/") {
			return fmt.Errorf("interface name %q contains '/'", iface)
		}
		for name, path := range maps {
			h := handle(iface, name)
			if e, ok := prev[h]; ok && e.PinPath == path {
				next[h] = e
				continue
			}
			d, err := rawmap.OpenPinned(name, path)
			if err != nil {
				return fmt.Errorf("interface %s: %w", iface, err)
			}
			next[h] = &tableEntry{iface: iface, Direct: d}
		}
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return ErrExited
	}
	t.maps = next
	t.mu.Unlock()
	for h, e := range prev {
		if next[h] != e {
			e.Close()
		}
	}
	return nil
}

func (t *mapTable) get(h string) (*rawmap.Direct, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	e, ok := t.maps[h]
	if !ok {
		return nil, status.Errorf(codes.PermissionDenied, "map %q is not one of this plugin's maps", h)
	}
	return e.Direct, nil
}

func (t *mapTable) handles() []*pluginpb.MapHandle {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]*pluginpb.MapHandle, 0, len(t.maps))
	for h, e := range t.maps {
		out = append(out, &pluginpb.MapHandle{
			Name:         e.Name,
			PinPath:      e.PinPath,
			Type:         uint32(e.Type),
			KeySize:      e.KeySize,
			ValueSize:    e.ValueSize,
			MaxEntries:   e.MaxEntries,
			Flags:        e.Flags,
			PerCpu:       e.PerCPU,
			PossibleCpus: uint32(e.PossibleCPUs),
			Interface:    e.iface,
			Handle:       h,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Handle < out[j].Handle })
	return out
}

func (t *mapTable) closeAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range t.maps {
		e.Close()
	}
	t.maps = map[string]*tableEntry{}
	t.closed = true
}

// toStatus maps map errors to the status codes of the Maps contract.
func toStatus(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ebpf.ErrKeyNotExist):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, ebpf.ErrKeyExist):
		return status.Error(codes.AlreadyExists, err.Error())
	case errors.Is(err, rawmap.ErrSize):
		return status.Error(codes.InvalidArgument, err.Error())
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(codes.Internal, err.Error())
}

// mapsServer serves a plugin its own maps over the broker.
type mapsServer struct {
	pluginpb.UnimplementedMapsServer
	p *Plugin
}

func (s *mapsServer) Lookup(_ context.Context, req *pluginpb.MapLookupRequest) (*pluginpb.MapLookupResponse, error) {
	d, err := s.p.maps.get(req.GetMap())
	if err != nil {
		return nil, err
	}
	v, err := d.Lookup(req.GetKey())
	if err != nil {
		return nil, toStatus(err)
	}
	return &pluginpb.MapLookupResponse{Value: v}, nil
}

func (s *mapsServer) Update(_ context.Context, req *pluginpb.MapUpdateRequest) (*pluginpb.MapUpdateResponse, error) {
	d, err := s.p.maps.get(req.GetMap())
	if err != nil {
		return nil, err
	}
	if err := d.Update(req.GetKey(), req.GetValue(), req.GetFlags()); err != nil {
		return nil, toStatus(err)
	}
	return &pluginpb.MapUpdateResponse{}, nil
}

func (s *mapsServer) Delete(_ context.Context, req *pluginpb.MapDeleteRequest) (*pluginpb.MapDeleteResponse, error) {
	d, err := s.p.maps.get(req.GetMap())
	if err != nil {
		return nil, err
	}
	if err := d.Delete(req.GetKey()); err != nil {
		return nil, toStatus(err)
	}
	return &pluginpb.MapDeleteResponse{}, nil
}

func (s *mapsServer) BatchUpdate(_ context.Context, req *pluginpb.MapBatchUpdateRequest) (*pluginpb.MapBatchUpdateResponse, error) {
	d, err := s.p.maps.get(req.GetMap())
	if err != nil {
		return nil, err
	}
	n, err := d.BatchUpdate(req.GetKeys(), req.GetValues(), req.GetFlags())
	resp := &pluginpb.MapBatchUpdateResponse{Count: uint32(n)}
	if err != nil {
		st, _ := status.FromError(toStatus(err))
		resp.ErrorCode, resp.ErrorMessage = uint32(st.Code()), st.Message()
	}
	return resp, nil
}

func (s *mapsServer) Iterate(req *pluginpb.MapIterateRequest, stream pluginpb.Maps_IterateServer) error {
	d, err := s.p.maps.get(req.GetMap())
	if err != nil {
		return err
	}
	it := d.Iterate()
	for {
		k, v, ok := it.Next()
		if !ok {
			break
		}
		if err := stream.Send(&pluginpb.MapEntry{Key: k, Value: v}); err != nil {
			return err
		}
	}
	if err := it.Err(); err != nil {
		return toStatus(fmt.Errorf("iterating map %s: %w", req.GetMap(), err))
	}
	return nil
}
