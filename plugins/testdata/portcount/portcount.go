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
	"sync"

	"github.com/xdpchain/xdpchain/plugins/sdk"
)

// Plugin is the portcount plugin.
type Plugin struct {
	counts *sdk.TypedMap[uint16, uint64]
}

// specs are the object's map specs, by the fields bpf2go generates, so that
// maps are found by field rather than by a string (sdk.MapOf).
var specs = sync.OnceValues(func() (*portcountMapSpecs, error) {
	spec, err := loadPortcount()
	if err != nil {
		return nil, err
	}
	var s portcountMapSpecs
	return &s, spec.Assign(&s)
})

// CountsMap returns the map from destination port to packets among maps.
func CountsMap(maps *sdk.Maps) (*sdk.TypedMap[uint16, uint64], error) {
	s, err := specs()
	if err != nil {
		return nil, err
	}
	return sdk.MapOf[uint16, uint64](maps, s.Counts)
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
	m, err := CountsMap(maps)
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
func Counts(m *sdk.TypedMap[uint16, uint64]) (map[uint16]uint64, error) {
	out := map[uint16]uint64{}
	err := m.Range(func(port uint16, n uint64) bool {
		out[port] = n
		return true
	})
	return out, err
}
