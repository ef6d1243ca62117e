package rawmap

import (
	"fmt"

	"github.com/cilium/ebpf"
)

// Direct performs raw operations on an open map.
type Direct struct {
	Info
	Map *ebpf.Map
}

// OpenPinned opens the map pinned at path.
func OpenPinned(name, path string) (*Direct, error) {
	m, err := ebpf.LoadPinnedMap(path, nil)
	if err != nil {
		return nil, fmt.Errorf("opening pinned map %s at %s: %w", name, path, err)
	}
	info, err := InfoOf(name, path, m)
	if err != nil {
		m.Close()
		return nil, err
	}
	return &Direct{Info: info, Map: m}, nil
}

// Close closes the map.
func (d *Direct) Close() error { return d.Map.Close() }

// split turns a per-CPU value buffer into one slice per CPU.
func (d *Direct) split(value []byte) [][]byte {
	out := make([][]byte, d.PossibleCPUs)
	for i := range out {
		off := i * d.Stride()
		out[i] = value[off : off+int(d.ValueSize)]
	}
	return out
}

// join is the inverse of split.
func (d *Direct) join(vals [][]byte) []byte {
	buf := make([]byte, d.FullValueSize())
	for i, v := range vals {
		copy(buf[i*d.Stride():], v)
	}
	return buf
}

// Lookup returns the value of key (ebpf.ErrKeyNotExist when absent).
func (d *Direct) Lookup(key []byte) ([]byte, error) {
	if err := d.CheckKey(key); err != nil {
		return nil, err
	}
	if d.PerCPU {
		var vals [][]byte
		if err := d.Map.Lookup(key, &vals); err != nil {
			return nil, err
		}
		return d.join(vals), nil
	}
	value := make([]byte, d.ValueSize)
	if err := d.Map.Lookup(key, value); err != nil {
		return nil, err
	}
	return value, nil
}

// Update writes key's value. flags is one of ebpf.UpdateAny, UpdateNoExist,
// UpdateExist.
func (d *Direct) Update(key, value []byte, flags uint64) error {
	if err := d.CheckKey(key); err != nil {
		return err
	}
	if err := d.CheckValue(value); err != nil {
		return err
	}
	if d.PerCPU {
		return d.Map.Update(key, d.split(value), ebpf.MapUpdateFlags(flags))
	}
	return d.Map.Update(key, value, ebpf.MapUpdateFlags(flags))
}

// Delete removes key (ebpf.ErrKeyNotExist when absent).
func (d *Direct) Delete(key []byte) error {
	if err := d.CheckKey(key); err != nil {
		return err
	}
	return d.Map.Delete(key)
}

// BatchUpdate writes the entries in order and stops at the first error. It
// returns how many were written.
func (d *Direct) BatchUpdate(keys, values [][]byte, flags uint64) (int, error) {
	if len(keys) != len(values) {
		return 0, fmt.Errorf("map %s: %d keys but %d values: %w", d.Name, len(keys), len(values), ErrSize)
	}
	for i := range keys {
		if err := d.Update(keys[i], values[i], flags); err != nil {
			return i, fmt.Errorf("entry %d: %w", i, err)
		}
	}
	return len(keys), nil
}

// Iterate returns an iterator over the map's entries.
func (d *Direct) Iterate() Iterator {
	return &directIterator{d: d, it: d.Map.Iterate()}
}

// Iterator walks a map's entries. Next returns false at the end or on error;
// check Err afterwards.
type Iterator interface {
	Next() (key, value []byte, ok bool)
	Err() error
}

type directIterator struct {
	d  *Direct
	it *ebpf.MapIterator
}

func (i *directIterator) Next() ([]byte, []byte, bool) {
	var key []byte
	if i.d.PerCPU {
		var vals [][]byte
		if !i.it.Next(&key, &vals) {
			return nil, nil, false
		}
		return key, i.d.join(vals), true
	}
	var value []byte
	if !i.it.Next(&key, &value) {
		return nil, nil, false
	}
	return key, value, true
}

func (i *directIterator) Err() error { return i.it.Err() }
