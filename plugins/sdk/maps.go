package sdk

import (
	"errors"
	"fmt"
	"reflect"
	"sort"

	"github.com/cilium/ebpf"

	"github.com/xdpchain/xdpchain/plugins/internal/rawmap"
)

// UpdateFlags selects how Update treats an existing key.
type UpdateFlags uint64

const (
	// UpdateAny creates or replaces the entry.
	UpdateAny UpdateFlags = UpdateFlags(ebpf.UpdateAny)
	// UpdateNoExist creates the entry; ErrKeyExist if it is present.
	UpdateNoExist UpdateFlags = UpdateFlags(ebpf.UpdateNoExist)
	// UpdateExist replaces the entry; ErrKeyNotExist if it is absent.
	UpdateExist UpdateFlags = UpdateFlags(ebpf.UpdateExist)
)

// backend performs raw operations; rawmap.Direct and brokerMap implement it.
type backend interface {
	Lookup(key []byte) ([]byte, error)
	Update(key, value []byte, flags uint64) error
	Delete(key []byte) error
	BatchUpdate(keys, values [][]byte, flags uint64) (int, error)
	Iterate() rawmap.Iterator
	Close() error
}

// MapInfo describes a map.
type MapInfo struct {
	// Name is the map's name in the plugin's BPF object.
	Name       string
	Type       ebpf.MapType
	KeySize    uint32
	ValueSize  uint32
	MaxEntries uint32
	// PerCPU maps hold one value per possible CPU: Lookup decodes into a
	// pointer to a slice, Update takes a slice.
	PerCPU       bool
	PossibleCPUs int
	// Direct is true when the plugin opened the pinned map itself, false
	// when operations go through the daemon.
	Direct bool
}

// Map is one of the plugin's maps. Keys and values are []byte, types
// implementing encoding.BinaryMarshaler/Unmarshaler, or fixed-size values
// for encoding/binary (integers, arrays, structs without implicit padding)
// in the host's byte order. Its methods are safe for concurrent use.
type Map struct {
	info    MapInfo
	pinPath string
	b       backend
}

// Info describes the map.
func (m *Map) Info() MapInfo { return m.info }

func (m *Map) String() string { return fmt.Sprintf("map %s", m.info.Name) }

func (m *Map) raw() rawmap.Info {
	return rawmap.Info{
		Name: m.info.Name, Type: m.info.Type, KeySize: m.info.KeySize, ValueSize: m.info.ValueSize,
		MaxEntries: m.info.MaxEntries, PerCPU: m.info.PerCPU, PossibleCPUs: m.info.PossibleCPUs,
	}
}

func (m *Map) key(key any) ([]byte, error) {
	b, err := marshal(key, int(m.info.KeySize))
	if err != nil {
		return nil, fmt.Errorf("%s: key: %w", m, err)
	}
	return b, nil
}

func (m *Map) value(v any) ([]byte, error) {
	var (
		b   []byte
		err error
	)
	if m.info.PerCPU {
		r := m.raw()
		b, err = marshalPerCPU(v, int(r.ValueSize), r.Stride(), r.PossibleCPUs)
	} else {
		b, err = marshal(v, int(m.info.ValueSize))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: value: %w", m, err)
	}
	return b, nil
}

func (m *Map) decodeValue(buf []byte, out any) error {
	var err error
	if m.info.PerCPU {
		r := m.raw()
		err = unmarshalPerCPU(buf, out, int(r.ValueSize), r.Stride(), r.PossibleCPUs)
	} else {
		err = unmarshal(buf, out)
	}
	if err != nil {
		return fmt.Errorf("%s: value: %w", m, err)
	}
	return nil
}

// Lookup decodes key's value into valueOut. It returns ErrKeyNotExist when
// the key is absent.
func (m *Map) Lookup(key, valueOut any) error {
	k, err := m.key(key)
	if err != nil {
		return err
	}
	v, err := m.b.Lookup(k)
	if err != nil {
		return fmt.Errorf("%s: lookup: %w", m, err)
	}
	return m.decodeValue(v, valueOut)
}

// Update writes key's value. For a per-CPU map value is a slice with one
// element per CPU (missing CPUs are zero).
func (m *Map) Update(key, value any, flags UpdateFlags) error {
	k, err := m.key(key)
	if err != nil {
		return err
	}
	v, err := m.value(value)
	if err != nil {
		return err
	}
	if err := m.b.Update(k, v, uint64(flags)); err != nil {
		return fmt.Errorf("%s: update: %w", m, err)
	}
	return nil
}

// Put is Update with UpdateAny.
func (m *Map) Put(key, value any) error { return m.Update(key, value, UpdateAny) }

// Delete removes key; ErrKeyNotExist when it is absent.
func (m *Map) Delete(key any) error {
	k, err := m.key(key)
	if err != nil {
		return err
	}
	if err := m.b.Delete(k); err != nil {
		return fmt.Errorf("%s: delete: %w", m, err)
	}
	return nil
}

// BatchUpdate writes many entries: keys and values are slices of equal
// length. The entries are written in order (through the daemon, in one
// round trip); it stops at the first error and returns how many were
// written.
func (m *Map) BatchUpdate(keys, values any, flags UpdateFlags) (int, error) {
	kv, vv := reflect.ValueOf(keys), reflect.ValueOf(values)
	if kv.Kind() != reflect.Slice || vv.Kind() != reflect.Slice {
		return 0, fmt.Errorf("%s: batch update: %w: keys and values must be slices", m, ErrEncoding)
	}
	if kv.Len() != vv.Len() {
		return 0, fmt.Errorf("%s: batch update: %w: %d keys, %d values", m, ErrEncoding, kv.Len(), vv.Len())
	}
	ks := make([][]byte, kv.Len())
	vs := make([][]byte, kv.Len())
	for i := range ks {
		var err error
		if ks[i], err = m.key(kv.Index(i).Interface()); err != nil {
			return 0, fmt.Errorf("entry %d: %w", i, err)
		}
		if vs[i], err = m.value(vv.Index(i).Interface()); err != nil {
			return 0, fmt.Errorf("entry %d: %w", i, err)
		}
	}
	n, err := m.b.BatchUpdate(ks, vs, uint64(flags))
	if err != nil {
		return n, fmt.Errorf("%s: batch update: %w", m, err)
	}
	return n, nil
}

// Iterate returns an iterator over the map's entries.
func (m *Map) Iterate() *MapIterator { return &MapIterator{m: m, it: m.b.Iterate()} }

// MapIterator walks a map. Entries added or removed during the walk may or
// may not be seen.
type MapIterator struct {
	m   *Map
	it  rawmap.Iterator
	err error
}

// Next decodes the next entry into keyOut and valueOut and reports whether
// there was one. Check Err when it returns false.
func (i *MapIterator) Next(keyOut, valueOut any) bool {
	if i.err != nil {
		return false
	}
	k, v, ok := i.it.Next()
	if !ok {
		if err := i.it.Err(); err != nil {
			i.err = fmt.Errorf("%s: iterate: %w", i.m, err)
		}
		return false
	}
	if err := unmarshal(k, keyOut); err != nil {
		i.err = fmt.Errorf("%s: key: %w", i.m, err)
		return false
	}
	if err := i.m.decodeValue(v, valueOut); err != nil {
		i.err = err
		return false
	}
	return true
}

// Err returns the error that stopped the iteration, if any.
func (i *MapIterator) Err() error { return i.err }

// Maps is the set of the plugin's maps, by name in its BPF object.
//
// A plugin assigned to several interfaces has one copy of each map per
// interface. Map returns a *Map that writes to every copy and reads from the
// first interface's (in name order): right for settings-like maps that must
// be equal everywhere. Interface gives one interface's copies, for counters
// and for maps that differ per interface.
type Maps struct {
	maps   map[string]*Map
	ifaces map[string]*Maps // nil in the Maps of one interface
}

// Map returns the map called name, or ErrNoSuchMap.
func (s *Maps) Map(name string) (*Map, error) {
	if s != nil {
		if m, ok := s.maps[name]; ok {
			return m, nil
		}
	}
	return nil, fmt.Errorf("%w: %q (have %v)", ErrNoSuchMap, name, s.Names())
}

// Names lists the maps' names, sorted.
func (s *Maps) Names() []string {
	if s == nil {
		return nil
	}
	names := make([]string, 0, len(s.maps))
	for n := range s.maps {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Interfaces lists the interfaces whose maps the plugin holds, sorted. The
// name is "" when the daemon configured one unnamed set of maps.
func (s *Maps) Interfaces() []string {
	if s == nil {
		return nil
	}
	names := make([]string, 0, len(s.ifaces))
	for n := range s.ifaces {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Interface returns the maps of one interface, or ErrNoSuchInterface.
func (s *Maps) Interface(name string) (*Maps, error) {
	if s != nil {
		if m, ok := s.ifaces[name]; ok {
			return m, nil
		}
	}
	return nil, fmt.Errorf("%w: %q (have %q)", ErrNoSuchInterface, name, s.Interfaces())
}

// fanout is the backend of a Map with one copy per interface.
type fanout struct{ members []*Map }

func newFanout(members []*Map) *Map {
	info := members[0].info
	for _, m := range members {
		info.Direct = info.Direct && m.info.Direct
	}
	return &Map{info: info, b: &fanout{members: members}}
}

func (f *fanout) Lookup(key []byte) ([]byte, error) { return f.members[0].b.Lookup(key) }

func (f *fanout) Update(key, value []byte, flags uint64) error {
	for _, m := range f.members {
		if err := m.b.Update(key, value, flags); err != nil {
			return err
		}
	}
	return nil
}

// Delete deletes key from every copy; ErrKeyNotExist when none had it.
func (f *fanout) Delete(key []byte) error {
	found := false
	for _, m := range f.members {
		err := m.b.Delete(key)
		switch {
		case err == nil:
			found = true
		case errors.Is(err, ErrKeyNotExist):
		default:
			return err
		}
	}
	if !found {
		return ErrKeyNotExist
	}
	return nil
}

// BatchUpdate writes the batch to every copy and returns the smallest count.
func (f *fanout) BatchUpdate(keys, values [][]byte, flags uint64) (int, error) {
	least := len(keys)
	for _, m := range f.members {
		n, err := m.b.BatchUpdate(keys, values, flags)
		least = min(least, n)
		if err != nil {
			return least, err
		}
	}
	return least, nil
}

func (f *fanout) Iterate() rawmap.Iterator { return f.members[0].b.Iterate() }

func (f *fanout) Close() error { return nil }

// NewMaps wraps maps the caller opened, for a plugin's unit tests: load the
// plugin's object standalone, pass its maps here, and call the plugin's
// Configure with the result, no daemon needed. The Maps do not own the
// *ebpf.Map values; the caller closes them.
func NewMaps(maps map[string]*ebpf.Map) (*Maps, error) {
	one := &Maps{maps: make(map[string]*Map, len(maps))}
	out := &Maps{maps: one.maps, ifaces: map[string]*Maps{"": one}}
	for name, m := range maps {
		info, err := rawmap.InfoOf(name, "", m)
		if err != nil {
			return nil, err
		}
		out.maps[name] = &Map{
			info: MapInfo{Name: name, Type: info.Type, KeySize: info.KeySize, ValueSize: info.ValueSize,
				MaxEntries: info.MaxEntries, PerCPU: info.PerCPU, PossibleCPUs: info.PossibleCPUs, Direct: true},
			b: unowned{&rawmap.Direct{Info: info, Map: m}},
		}
	}
	return out, nil
}

// unowned is a backend whose Close does not close the map.
type unowned struct{ *rawmap.Direct }

func (unowned) Close() error { return nil }
