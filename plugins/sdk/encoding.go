package sdk

import (
	"bytes"
	"encoding"
	"encoding/binary"
	"fmt"
	"reflect"
)

// marshal encodes v into exactly size bytes: a []byte as is, an
// encoding.BinaryMarshaler by its method, anything else with encoding/binary
// in the host's byte order (fixed-size types: integers, arrays, structs
// without implicit padding).
func marshal(v any, size int) ([]byte, error) {
	var (
		buf []byte
		err error
	)
	switch v := v.(type) {
	case nil:
		return nil, fmt.Errorf("%w: nil", ErrEncoding)
	case []byte:
		buf = v
	case encoding.BinaryMarshaler:
		buf, err = v.MarshalBinary()
	default:
		buf, err = binary.Append(nil, binary.NativeEndian, v)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %T: %w", ErrEncoding, v, err)
	}
	if len(buf) != size {
		return nil, fmt.Errorf("%w: %T is %d bytes, the map wants %d", ErrEncoding, v, len(buf), size)
	}
	return buf, nil
}

// unmarshal decodes buf into out: a *[]byte gets a copy, a []byte of the
// right length is filled, an encoding.BinaryUnmarshaler decodes itself,
// anything else is decoded with encoding/binary.
func unmarshal(buf []byte, out any) error {
	switch out := out.(type) {
	case nil:
		return fmt.Errorf("%w: nil destination", ErrEncoding)
	case *[]byte:
		*out = bytes.Clone(buf)
		return nil
	case []byte:
		if len(out) != len(buf) {
			return fmt.Errorf("%w: destination of %d bytes for %d", ErrEncoding, len(out), len(buf))
		}
		copy(out, buf)
		return nil
	case encoding.BinaryUnmarshaler:
		if err := out.UnmarshalBinary(buf); err != nil {
			return fmt.Errorf("%w: %T: %w", ErrEncoding, out, err)
		}
		return nil
	}
	n, err := binary.Decode(buf, binary.NativeEndian, out)
	if err != nil {
		return fmt.Errorf("%w: %T: %w", ErrEncoding, out, err)
	}
	if n != len(buf) {
		return fmt.Errorf("%w: %T is %d bytes, the map's are %d", ErrEncoding, out, n, len(buf))
	}
	return nil
}

// marshalPerCPU encodes a slice with at most ncpu elements into a per-CPU
// value buffer; missing CPUs are zero.
func marshalPerCPU(v any, size, stride, ncpu int) ([]byte, error) {
	if b, ok := v.([]byte); ok && len(b) == stride*ncpu {
		return b, nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice {
		return nil, fmt.Errorf("%w: a per-CPU value must be a slice with one element per CPU, not %T", ErrEncoding, v)
	}
	if rv.Len() > ncpu {
		return nil, fmt.Errorf("%w: %d per-CPU values for %d CPUs", ErrEncoding, rv.Len(), ncpu)
	}
	buf := make([]byte, stride*ncpu)
	for i := range rv.Len() {
		b, err := marshal(rv.Index(i).Interface(), size)
		if err != nil {
			return nil, fmt.Errorf("cpu %d: %w", i, err)
		}
		copy(buf[i*stride:], b)
	}
	return buf, nil
}

// unmarshalPerCPU decodes a per-CPU value buffer into out, a pointer to a
// slice, which is resized to ncpu elements.
func unmarshalPerCPU(buf []byte, out any, size, stride, ncpu int) error {
	if b, ok := out.(*[]byte); ok {
		*b = bytes.Clone(buf)
		return nil
	}
	rv := reflect.ValueOf(out)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Slice {
		return fmt.Errorf("%w: a per-CPU value decodes into a pointer to a slice, not %T", ErrEncoding, out)
	}
	slice := reflect.MakeSlice(rv.Elem().Type(), ncpu, ncpu)
	for i := range ncpu {
		if err := unmarshal(buf[i*stride:i*stride+size], slice.Index(i).Addr().Interface()); err != nil {
			return fmt.Errorf("cpu %d: %w", i, err)
		}
	}
	rv.Elem().Set(slice)
	return nil
}
