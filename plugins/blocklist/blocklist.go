package blocklist

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"

	"github.com/xdpchain/xdpchain/plugins/sdk"
)

// Names of the program and its maps in the BPF object.
const (
	ProgramName = "xdp_blocklist"
	MapV4       = "bl_v4"
	MapV6       = "bl_v6"
	MapHits     = "bl_hits"
	// MaxPrefixes is the capacity of each trie and of the hit counters
	// (BL_MAX_PREFIXES in bpf/blocklist.c).
	MaxPrefixes = 1024
)

// Version of the plugin.
const Version = "1.0.0"

// Object returns the plugin's BPF object.
func Object() []byte { return _BlocklistBytes }

// Settings are the plugin's settings.
type Settings struct {
	// Prefixes to drop, e.g. "192.0.2.0/24", "2001:db8::/32". A bare
	// address is a /32 or /128.
	Prefixes []string `json:"prefixes"`
}

// ParsePrefixes parses and normalizes (masks) a prefix list, dropping
// duplicates. It fails on the first malformed entry.
func ParsePrefixes(in []string) ([]netip.Prefix, error) {
	seen := make(map[netip.Prefix]bool, len(in))
	var out []netip.Prefix
	for _, s := range in {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("prefix %q: %w", s, err)
			}
			if a.Zone() != "" {
				return nil, fmt.Errorf("prefix %q: zones are not allowed", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		p = p.Masked()
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	var v4, v6 int
	for _, p := range out {
		if p.Addr().Is4() {
			v4++
		} else {
			v6++
		}
	}
	if v4 > MaxPrefixes || v6 > MaxPrefixes || v4+v6 > MaxPrefixes {
		return nil, fmt.Errorf("%d prefixes, at most %d fit", len(out), MaxPrefixes)
	}
	return out, nil
}

// key4 and key6 are struct bl_key_v4 and bl_key_v6.
type key4 struct {
	PrefixLen uint32
	Addr      [4]byte
}

type key6 struct {
	PrefixLen uint32
	Addr      [16]byte
}

func prefixKey(p netip.Prefix) any {
	if p.Addr().Is4() {
		return key4{PrefixLen: uint32(p.Bits()), Addr: p.Addr().As4()}
	}
	return key6{PrefixLen: uint32(p.Bits()), Addr: p.Addr().As16()}
}

// Plugin is the blocklist plugin.
type Plugin struct {
	mu       sync.Mutex
	sets     []*mapSet // one per interface
	prefixes []netip.Prefix
}

// mapSet is one interface's copy of the plugin's maps.
type mapSet struct {
	v4, v6, hits *sdk.Map
}

func openMapSet(maps *sdk.Maps) (*mapSet, error) {
	var (
		s   mapSet
		err error
	)
	if s.v4, err = maps.Map(MapV4); err != nil {
		return nil, err
	}
	if s.v6, err = maps.Map(MapV6); err != nil {
		return nil, err
	}
	if s.hits, err = maps.Map(MapHits); err != nil {
		return nil, err
	}
	return &s, nil
}

// New returns the plugin.
func New() *Plugin { return &Plugin{} }

// Describe implements sdk.Plugin.
func (p *Plugin) Describe() sdk.Description {
	return sdk.Description{
		Name:        "blocklist",
		Version:     Version,
		Object:      Object(),
		ProgramName: ProgramName,
		Priority:    10,
		ProceedOn:   []sdk.Verdict{sdk.Pass},
		Allowed:     []sdk.Verdict{sdk.Drop, sdk.Pass},
	}
}

// Configure implements sdk.Plugin: it makes the tries hold exactly the
// configured prefixes. Prefixes that stay keep their counters; new ones
// start at zero. A malformed setting changes nothing.
func (p *Plugin) Configure(_ context.Context, settings sdk.Settings, maps *sdk.Maps, _ *sdk.Host) error {
	want, err := parseSettings(settings)
	if err != nil {
		return err
	}
	// Each interface has its own copy of the maps; bring each to the
	// wanted set (an interface added later starts empty).
	var sets []*mapSet
	for _, iface := range maps.Interfaces() {
		one, err := maps.Interface(iface)
		if err != nil {
			return err
		}
		set, err := openMapSet(one)
		if err != nil {
			return err
		}
		sets = append(sets, set)
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	p.sets = sets
	for _, set := range sets {
		if err := set.apply(want); err != nil {
			return err
		}
	}
	p.prefixes = want
	return nil
}

var _ sdk.Validator = (*Plugin)(nil)

// Validate implements sdk.Validator: the settings decode and every prefix
// parses (and they fit), as Configure requires.
func (p *Plugin) Validate(_ context.Context, settings sdk.Settings) error {
	_, err := parseSettings(settings)
	return err
}

func parseSettings(settings sdk.Settings) ([]netip.Prefix, error) {
	var s Settings
	if err := settings.Decode(&s); err != nil {
		return nil, err
	}
	return ParsePrefixes(s.Prefixes)
}

// current reads the tries: prefix -> counter index. Reading them (rather
// than remembering) lets a restarted plugin keep the counters.
func (p *mapSet) current() (map[netip.Prefix]uint32, error) {
	out := make(map[netip.Prefix]uint32)
	var (
		k4  key4
		k6  key6
		idx uint32
	)
	it := p.v4.Iterate()
	for it.Next(&k4, &idx) {
		out[netip.PrefixFrom(netip.AddrFrom4(k4.Addr), int(k4.PrefixLen))] = idx
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	it = p.v6.Iterate()
	for it.Next(&k6, &idx) {
		out[netip.PrefixFrom(netip.AddrFrom16(k6.Addr), int(k6.PrefixLen))] = idx
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func (p *mapSet) trie(pr netip.Prefix) *sdk.Map {
	if pr.Addr().Is4() {
		return p.v4
	}
	return p.v6
}

func (p *mapSet) apply(want []netip.Prefix) error {
	have, err := p.current()
	if err != nil {
		return fmt.Errorf("reading prefixes: %w", err)
	}
	wanted := make(map[netip.Prefix]bool, len(want))
	for _, pr := range want {
		wanted[pr] = true
	}
	used := make(map[uint32]bool, len(have))
	for pr, idx := range have {
		if wanted[pr] {
			used[idx] = true
			continue
		}
		if err := p.trie(pr).Delete(prefixKey(pr)); err != nil && !errors.Is(err, sdk.ErrKeyNotExist) {
			return fmt.Errorf("removing %s: %w", pr, err)
		}
	}
	next := uint32(0)
	zero := make([]uint64, p.hits.Info().PossibleCPUs)
	for _, pr := range want {
		if _, ok := have[pr]; ok {
			continue
		}
		for used[next] {
			next++
		}
		if next >= MaxPrefixes {
			return fmt.Errorf("adding %s: no free counter", pr)
		}
		if err := p.hits.Put(next, zero); err != nil {
			return fmt.Errorf("adding %s: zeroing counter: %w", pr, err)
		}
		if err := p.trie(pr).Put(prefixKey(pr), next); err != nil {
			return fmt.Errorf("adding %s: %w", pr, err)
		}
		used[next] = true
	}
	return nil
}

// Prefixes returns the configured prefixes.
func (p *Plugin) Prefixes() []netip.Prefix {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]netip.Prefix(nil), p.prefixes...)
}

// Hits returns the number of packets dropped per configured prefix, summed
// over the plugin's interfaces.
func (p *Plugin) Hits() (map[netip.Prefix]uint64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sets == nil {
		return nil, errors.New("not configured")
	}
	out := make(map[netip.Prefix]uint64)
	for _, set := range p.sets {
		hits, err := ReadHits(set.v4, set.v6, set.hits)
		if err != nil {
			return nil, err
		}
		for pr, n := range hits {
			out[pr] += n
		}
	}
	return out, nil
}

// ReadHits reads the per-prefix drop counts from one interface's maps.
func ReadHits(v4, v6, hits *sdk.Map) (map[netip.Prefix]uint64, error) {
	set := &mapSet{v4: v4, v6: v6, hits: hits}
	cur, err := set.current()
	if err != nil {
		return nil, err
	}
	out := make(map[netip.Prefix]uint64, len(cur))
	for pr, idx := range cur {
		var perCPU []uint64
		if err := hits.Lookup(idx, &perCPU); err != nil {
			return nil, fmt.Errorf("reading counter of %s: %w", pr, err)
		}
		var sum uint64
		for _, n := range perCPU {
			sum += n
		}
		out[pr] = sum
	}
	return out, nil
}

// Health implements sdk.Plugin: once configured, the plugin is healthy
// while it can read its counters (through the daemon, for an unprivileged
// plugin).
func (p *Plugin) Health(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, set := range p.sets {
		var perCPU []uint64
		if err := set.hits.Lookup(uint32(0), &perCPU); err != nil {
			return fmt.Errorf("reading counters: %w", err)
		}
	}
	return nil
}
