// Package portcount is an xdpchain plugin that counts UDP packets per
// destination port, for the ports in its settings:
//
//	[plugin.settings]
//	ports = [53, 123]
package portcount

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/xdpchain/xdpchain/plugins/sdk"
)

// MapCounts is the map from destination port (uint16) to packets (uint64).
const MapCounts = "counts"

// Plugin is the portcount plugin.
type Plugin struct {
	counts *sdk.Map
}

// New returns an unconfigured plugin.
func New() *Plugin { return &Plugin{} }

// Describe implements sdk.Plugin.
func (p *Plugin) Describe() sdk.Description {
	return sdk.Description{
		Name:        "portcount",
		Version:     "0.1.0",
		Object:      _PortcountBytes,
		ProgramName: "xdp_portcount",
		Priority:    40,
		Allowed:     []sdk.Verdict{sdk.Pass},
	}
}

type settings struct {
	Ports []int `json:"ports"`
}

func parse(s sdk.Settings) ([]uint16, error) {
	var cfg settings
	if err := s.Decode(&cfg); err != nil {
		return nil, err
	}
	var ports []uint16
	for i, p := range cfg.Ports {
		if p < 1 || p > 65535 {
			return nil, fmt.Errorf("ports[%d]: %d is not a port", i, p)
		}
		ports = append(ports, uint16(p))
	}
	return ports, nil
}

// Validate implements sdk.Validator.
func (p *Plugin) Validate(_ context.Context, s sdk.Settings) error {
	_, err := parse(s)
	return err
}

// Configure implements sdk.Plugin: ports new to the settings start at zero,
// ports that stay keep their counts, others are removed.
func (p *Plugin) Configure(_ context.Context, s sdk.Settings, maps *sdk.Maps, _ *sdk.Host) error {
	ports, err := parse(s)
	if err != nil {
		return err
	}
	m, err := maps.Map(MapCounts)
	if err != nil {
		return err
	}
	have, err := Counts(m)
	if err != nil {
		return err
	}
	for port := range have {
		if !slices.Contains(ports, port) {
			if err := m.Delete(port); err != nil {
				return err
			}
		}
	}
	for _, port := range ports {
		if err := m.Update(port, uint64(0), sdk.UpdateNoExist); err != nil && !errors.Is(err, sdk.ErrKeyExist) {
			return err
		}
	}
	p.counts = m
	sdk.Logger().Info("ports counted", "ports", ports, "xdpchain_interface", os.Getenv("XDPCHAIN_INTERFACE"))
	return nil
}

// Health implements sdk.Plugin: the counts map answers.
func (p *Plugin) Health(context.Context) error {
	if p.counts == nil {
		return nil
	}
	_, err := Counts(p.counts)
	return err
}

// Counts reads the counts map.
func Counts(m *sdk.Map) (map[uint16]uint64, error) {
	out := map[uint16]uint64{}
	var (
		port uint16
		n    uint64
	)
	it := m.Iterate()
	for it.Next(&port, &n) {
		out[port] = n
	}
	return out, it.Err()
}
