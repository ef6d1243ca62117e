package sdk

import (
	"errors"
	"net/netip"
	"reflect"
	"testing"
)

type addrKey struct {
	PrefixLen uint32
	Addr      [4]byte
}

type textAddr struct{ a netip.Addr }

func (t textAddr) MarshalBinary() ([]byte, error) { return t.a.AsSlice(), nil }
func (t *textAddr) UnmarshalBinary(b []byte) error {
	a, ok := netip.AddrFromSlice(b)
	if !ok {
		return errors.New("bad address")
	}
	t.a = a
	return nil
}

func TestMarshal(t *testing.T) {
	for _, tc := range []struct {
		in   any
		size int
		want []byte
	}{
		{uint32(0x01020304), 4, []byte{4, 3, 2, 1}},
		{uint64(1), 8, []byte{1, 0, 0, 0, 0, 0, 0, 0}},
		{[]byte{9, 8}, 2, []byte{9, 8}},
		{addrKey{24, [4]byte{192, 0, 2, 0}}, 8, []byte{24, 0, 0, 0, 192, 0, 2, 0}},
		{textAddr{netip.MustParseAddr("192.0.2.1")}, 4, []byte{192, 0, 2, 1}},
	} {
		got, err := marshal(tc.in, tc.size)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("marshal(%#v) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		in   any
		size int
	}{
		{uint16(1), 4},
		{[]byte{1}, 4},
		{nil, 4},
		{"string", 6},
		{map[int]int{}, 8},
	} {
		if _, err := marshal(tc.in, tc.size); !errors.Is(err, ErrEncoding) {
			t.Errorf("marshal(%#v, %d): %v, want ErrEncoding", tc.in, tc.size, err)
		}
	}
}

func TestUnmarshal(t *testing.T) {
	var u32 uint32
	if err := unmarshal([]byte{4, 3, 2, 1}, &u32); err != nil || u32 != 0x01020304 {
		t.Errorf("uint32: %#x, %v", u32, err)
	}
	var k addrKey
	if err := unmarshal([]byte{24, 0, 0, 0, 192, 0, 2, 0}, &k); err != nil || k.PrefixLen != 24 || k.Addr != [4]byte{192, 0, 2, 0} {
		t.Errorf("struct: %+v, %v", k, err)
	}
	var raw []byte
	if err := unmarshal([]byte{1, 2}, &raw); err != nil || !reflect.DeepEqual(raw, []byte{1, 2}) {
		t.Errorf("*[]byte: %v, %v", raw, err)
	}
	fixed := make([]byte, 2)
	if err := unmarshal([]byte{1, 2}, fixed); err != nil || fixed[1] != 2 {
		t.Errorf("[]byte: %v, %v", fixed, err)
	}
	var ta textAddr
	if err := unmarshal([]byte{192, 0, 2, 1}, &ta); err != nil || ta.a.String() != "192.0.2.1" {
		t.Errorf("BinaryUnmarshaler: %v, %v", ta.a, err)
	}
	if err := unmarshal([]byte{1, 2, 3, 4, 5, 6, 7, 8}, &u32); !errors.Is(err, ErrEncoding) {
		t.Errorf("too much data: %v", err)
	}
	if err := unmarshal([]byte{1, 2}, &u32); !errors.Is(err, ErrEncoding) {
		t.Errorf("too little data: %v", err)
	}
	if err := unmarshal([]byte{1, 2, 3}, make([]byte, 2)); !errors.Is(err, ErrEncoding) {
		t.Errorf("short destination: %v", err)
	}
}

func TestPerCPU(t *testing.T) {
	const size, stride, ncpu = 4, 8, 3
	buf, err := marshalPerCPU([]uint32{1, 2}, size, stride, ncpu)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if !reflect.DeepEqual(buf, want) {
		t.Errorf("marshal: %v\nwant %v", buf, want)
	}
	var out []uint32
	if err := unmarshalPerCPU(buf, &out, size, stride, ncpu); err != nil || !reflect.DeepEqual(out, []uint32{1, 2, 0}) {
		t.Errorf("unmarshal: %v, %v", out, err)
	}
	if _, err := marshalPerCPU(uint32(1), size, stride, ncpu); !errors.Is(err, ErrEncoding) {
		t.Errorf("scalar per-CPU value: %v", err)
	}
	if _, err := marshalPerCPU([]uint32{1, 2, 3, 4}, size, stride, ncpu); !errors.Is(err, ErrEncoding) {
		t.Errorf("too many CPUs: %v", err)
	}
	var scalar uint32
	if err := unmarshalPerCPU(buf, &scalar, size, stride, ncpu); !errors.Is(err, ErrEncoding) {
		t.Errorf("decode into scalar: %v", err)
	}
}

func TestDescriptionValidate(t *testing.T) {
	good := Description{Name: "x", Object: []byte{1}, ProgramName: "f", ProceedOn: []Verdict{Pass}}
	if err := good.validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []Description{
		{Object: []byte{1}, ProgramName: "f"},
		{Name: "x", ProgramName: "f"},
		{Name: "x", Object: []byte{1}},
		{Name: "x", Object: []byte{1}, ProgramName: "f", Allowed: []Verdict{7}},
	} {
		if err := bad.validate(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if got := verdictBits([]Verdict{Drop, Pass}); got != 0b110 {
		t.Errorf("verdict bits %#b", got)
	}
}

func TestSettings(t *testing.T) {
	type s struct {
		Rate  uint64   `json:"rate_pps"`
		Names []string `json:"names"`
	}
	v := s{Rate: 5}
	if err := (Settings{}).Decode(&v); err != nil || v.Rate != 5 {
		t.Errorf("empty settings: %+v, %v", v, err)
	}
	if string((Settings{}).JSON()) != "{}" {
		t.Errorf("empty JSON %s", (Settings{}).JSON())
	}
	if err := SettingsFromJSON([]byte(`{"rate_pps": 7, "names": ["a"]}`)).Decode(&v); err != nil || v.Rate != 7 || v.Names[0] != "a" {
		t.Errorf("decode: %+v, %v", v, err)
	}
	for _, bad := range []string{`{"rate": 1}`, `{"rate_pps": "x"}`, `{"rate_pps": -1}`, `[1]`} {
		if err := SettingsFromJSON([]byte(bad)).Decode(&v); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
