package sdk

import (
	"encoding"
	"encoding/binary"
	"fmt"
	"reflect"

	"github.com/cilium/ebpf"
)

// TypedMap is a Map with fixed key and value types: K and V are the types
// bpf2go generates for the map's key and value (run it without
// -no-global-types, or with -type NAME), integers, arrays, or structs laid
// out like the C types. For a per-CPU map V is a slice of the per-CPU value
// type: Lookup returns one element per possible CPU, Update takes up to as
// many. Get one with MapOf or TypedOf; its methods are safe for concurrent
// use, like Map's.
type TypedMap[K, V any] struct {
	m *Map
}

// MapOf returns the plugin's map that spec describes, as a TypedMap: spec is
// the *ebpf.MapSpec of a field of the xMapSpecs struct bpf2go generates
// (spec.Name is the map's name in the object), so that the map is named by
// a generated field instead of a string:
//
//	var specs myfilterSpecs
//	spec, _ := loadMyfilter()
//	spec.Assign(&specs)
//	hits, err := sdk.MapOf[uint16, uint64](maps, specs.Hits)
//
// It fails (ErrNoSuchMap, ErrEncoding) when the plugin has no such map, when
// the map's sizes differ from the spec's (the maps belong to another
// object), or when K or V have another size than the map's key and value.
func MapOf[K, V any](maps *Maps, spec *ebpf.MapSpec) (*TypedMap[K, V], error) {
	if spec == nil {
		return nil, fmt.Errorf("%w: no map spec", ErrNoSuchMap)
	}
	m, err := maps.Map(spec.Name)
	if err != nil {
		return nil, err
	}
	if info := m.Info(); info.KeySize != spec.KeySize || info.ValueSize != spec.ValueSize {
		return nil, fmt.Errorf("%s: %w: key and value are %d and %d bytes, the spec says %d and %d",
			m, ErrEncoding, info.KeySize, info.ValueSize, spec.KeySize, spec.ValueSize)
	}
	return TypedOf[K, V](m)
}

// TypedOf wraps m as a TypedMap, checking that K and V have the sizes of
// m's key and value (types with their own binary encoding and []byte are
// not checked).
func TypedOf[K, V any](m *Map) (*TypedMap[K, V], error) {
	info := m.Info()
	if err := checkSize(reflect.TypeFor[K](), int(info.KeySize), "key"); err != nil {
		return nil, fmt.Errorf("%s: %w", m, err)
	}
	vt := reflect.TypeFor[V]()
	if info.PerCPU {
		if vt.Kind() != reflect.Slice {
			return nil, fmt.Errorf("%s: %w: per-CPU map: value type %s is not a slice", m, ErrEncoding, vt)
		}
		vt = vt.Elem()
	}
	if err := checkSize(vt, int(info.ValueSize), "value"); err != nil {
		return nil, fmt.Errorf("%s: %w", m, err)
	}
	return &TypedMap[K, V]{m: m}, nil
}

var (
	marshalerType   = reflect.TypeFor[encoding.BinaryMarshaler]()
	unmarshalerType = reflect.TypeFor[encoding.BinaryUnmarshaler]()
	bytesType       = reflect.TypeFor[[]byte]()
)

func checkSize(t reflect.Type, size int, what string) error {
	if t == bytesType || t.Implements(marshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil
	}
	n := binary.Size(reflect.Zero(t).Interface())
	if n != size {
		return fmt.Errorf("%w: %s type %s is %d bytes, the map's %s %d", ErrEncoding, what, t, n, what, size)
	}
	return nil
}

// Map returns the untyped map.
func (t *TypedMap[K, V]) Map() *Map { return t.m }

// Lookup returns key's value; ErrKeyNotExist when the key is absent.
func (t *TypedMap[K, V]) Lookup(key K) (V, error) {
	var v V
	err := t.m.Lookup(key, &v)
	return v, err
}

// Update writes key's value.
func (t *TypedMap[K, V]) Update(key K, value V, flags UpdateFlags) error {
	return t.m.Update(key, value, flags)
}

// Put is Update with UpdateAny.
func (t *TypedMap[K, V]) Put(key K, value V) error { return t.m.Put(key, value) }

// Delete removes key; ErrKeyNotExist when it is absent.
func (t *TypedMap[K, V]) Delete(key K) error { return t.m.Delete(key) }

// BatchUpdate writes keys[i] = values[i], in order; see Map.BatchUpdate.
func (t *TypedMap[K, V]) BatchUpdate(keys []K, values []V, flags UpdateFlags) (int, error) {
	return t.m.BatchUpdate(keys, values, flags)
}

// Range calls fn for each entry until it returns false, and returns the
// error that stopped the walk, if any.
func (t *TypedMap[K, V]) Range(fn func(K, V) bool) error {
	var (
		k K
		v V
	)
	it := t.m.Iterate()
	for it.Next(&k, &v) {
		if !fn(k, v) {
			break
		}
		var zero V
		v = zero // a per-CPU slice is decoded afresh
	}
	return it.Err()
}
