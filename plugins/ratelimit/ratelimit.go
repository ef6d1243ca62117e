package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/xdpchain/xdpchain/plugins/sdk"
)

// Names of the program and its maps in the BPF object.
const (
	ProgramName = "xdp_ratelimit"
	MapConfig   = "rl_config"
	MapBuckets  = "rl_buckets"
	MapStats    = "rl_stats"
)

// Version of the plugin.
const Version = "1.0.0"

// Object returns the plugin's BPF object.
func Object() []byte { return _RatelimitBytes }

// Settings are the plugin's settings.
type Settings struct {
	// RatePPS is the average rate per source, packets per second. Required.
	RatePPS uint64 `json:"rate_pps"`
	// Burst is how many packets a source may send at once. Default RatePPS.
	Burst uint64 `json:"burst"`
}

// maxRate keeps burst*1e9 and the refill arithmetic within 64 bits.
const maxRate = 1 << 32

func (s *Settings) validate() error {
	if s.RatePPS == 0 {
		return errors.New("rate_pps must be set and positive")
	}
	if s.Burst == 0 {
		s.Burst = s.RatePPS
	}
	if s.RatePPS > maxRate || s.Burst > maxRate {
		return fmt.Errorf("rate_pps and burst must be at most %d", uint64(maxRate))
	}
	return nil
}

// config is struct rl_config.
type config struct {
	RatePPS uint64
	Burst   uint64
}

// Stats are the packets the limiter passed and dropped.
type Stats struct {
	Passed, Dropped uint64
}

// Plugin is the ratelimit plugin.
type Plugin struct {
	mu       sync.Mutex
	config   *sdk.Map   // every interface's copy (writes fan out)
	stats    []*sdk.Map // one per interface
	settings Settings
}

// New returns the plugin.
func New() *Plugin { return &Plugin{} }

// Describe implements sdk.Plugin.
func (p *Plugin) Describe() sdk.Description {
	return sdk.Description{
		Name:        "ratelimit",
		Version:     Version,
		Object:      Object(),
		ProgramName: ProgramName,
		Priority:    20,
		ProceedOn:   []sdk.Verdict{sdk.Pass},
		Allowed:     []sdk.Verdict{sdk.Drop, sdk.Pass},
	}
}

// Configure implements sdk.Plugin: it writes rate_pps and burst into
// rl_config. Invalid settings change nothing.
func (p *Plugin) Configure(_ context.Context, settings sdk.Settings, maps *sdk.Maps, _ *sdk.Host) error {
	s, err := parseSettings(settings)
	if err != nil {
		return err
	}
	cfg, err := maps.Map(MapConfig)
	if err != nil {
		return err
	}
	var stats []*sdk.Map
	for _, iface := range maps.Interfaces() {
		one, err := maps.Interface(iface)
		if err != nil {
			return err
		}
		m, err := one.Map(MapStats)
		if err != nil {
			return err
		}
		stats = append(stats, m)
	}
	if err := cfg.Put(uint32(0), config(s)); err != nil {
		return fmt.Errorf("writing settings: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.config, p.stats, p.settings = cfg, stats, s
	return nil
}

var _ sdk.Validator = (*Plugin)(nil)

// Validate implements sdk.Validator: rate_pps set and positive, both within
// range, as Configure requires.
func (p *Plugin) Validate(_ context.Context, settings sdk.Settings) error {
	_, err := parseSettings(settings)
	return err
}

func parseSettings(settings sdk.Settings) (Settings, error) {
	var s Settings
	if err := settings.Decode(&s); err != nil {
		return s, err
	}
	return s, s.validate()
}

// Settings returns the settings in force (Burst defaulted).
func (p *Plugin) Settings() Settings {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.settings
}

// Stats reads the pass and drop counters, summed over the plugin's
// interfaces.
func (p *Plugin) Stats() (Stats, error) {
	p.mu.Lock()
	stats := p.stats
	p.mu.Unlock()
	if stats == nil {
		return Stats{}, errors.New("not configured")
	}
	var total Stats
	for _, m := range stats {
		s, err := ReadStats(m)
		if err != nil {
			return Stats{}, err
		}
		total.Passed += s.Passed
		total.Dropped += s.Dropped
	}
	return total, nil
}

// ReadStats reads the pass and drop counters from one rl_stats map.
func ReadStats(stats *sdk.Map) (Stats, error) {
	var out Stats
	for i, dst := range []*uint64{&out.Passed, &out.Dropped} {
		var perCPU []uint64
		if err := stats.Lookup(uint32(i), &perCPU); err != nil {
			return Stats{}, fmt.Errorf("reading stats: %w", err)
		}
		for _, n := range perCPU {
			*dst += n
		}
	}
	return out, nil
}

// Health implements sdk.Plugin: once configured, the plugin is healthy
// while its settings are still in the map.
func (p *Plugin) Health(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.config == nil {
		return nil
	}
	var c config
	if err := p.config.Lookup(uint32(0), &c); err != nil {
		return fmt.Errorf("reading settings: %w", err)
	}
	if c.RatePPS != p.settings.RatePPS || c.Burst != p.settings.Burst {
		return fmt.Errorf("settings in the map (%d pps, burst %d) differ from the configured ones", c.RatePPS, c.Burst)
	}
	return nil
}
