package rawmap

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
)

// Sentinel errors of raw map operations.
var (
	// ErrSize: a key or value has the wrong length for the map.
	ErrSize = errors.New("wrong key or value size")
)

// Info is what a client needs to know about a map to encode its keys and
// values.
type Info struct {
	Name         string
	PinPath      string
	Type         ebpf.MapType
	KeySize      uint32
	ValueSize    uint32
	MaxEntries   uint32
	Flags        uint32
	PerCPU       bool
	PossibleCPUs int
}

// InfoOf returns the Info of an open map.
func InfoOf(name, pinPath string, m *ebpf.Map) (Info, error) {
	info := Info{
		Name:       name,
		PinPath:    pinPath,
		Type:       m.Type(),
		KeySize:    m.KeySize(),
		ValueSize:  m.ValueSize(),
		MaxEntries: m.MaxEntries(),
		Flags:      m.Flags(),
		PerCPU:     IsPerCPU(m.Type()),
	}
	if info.PerCPU {
		n, err := ebpf.PossibleCPU()
		if err != nil {
			return Info{}, fmt.Errorf("reading possible cpus: %w", err)
		}
		info.PossibleCPUs = n
	}
	return info, nil
}

// IsPerCPU reports whether maps of type t hold one value per CPU.
func IsPerCPU(t ebpf.MapType) bool {
	switch t {
	case ebpf.PerCPUHash, ebpf.PerCPUArray, ebpf.LRUCPUHash, ebpf.PerCPUCGroupStorage:
		return true
	}
	return false
}

// Stride is the size of one CPU's value in a per-CPU map's value buffer.
func (i Info) Stride() int { return (int(i.ValueSize) + 7) &^ 7 }

// FullValueSize is the length of a value buffer: ValueSize, or for per-CPU
// maps PossibleCPUs strides.
func (i Info) FullValueSize() int {
	if i.PerCPU {
		return i.Stride() * i.PossibleCPUs
	}
	return int(i.ValueSize)
}

// CheckKey returns ErrSize unless len(key) is the map's key size.
func (i Info) CheckKey(key []byte) error {
	if len(key) != int(i.KeySize) {
		return fmt.Errorf("map %s: key of %d bytes, want %d: %w", i.Name, len(key), i.KeySize, ErrSize)
	}
	return nil
}

// CheckValue returns ErrSize unless len(value) is FullValueSize.
func (i Info) CheckValue(value []byte) error {
	if len(value) != i.FullValueSize() {
		return fmt.Errorf("map %s: value of %d bytes, want %d: %w", i.Name, len(value), i.FullValueSize(), ErrSize)
	}
	return nil
}
