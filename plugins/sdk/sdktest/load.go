package sdktest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/xdpchain/xdpchain/plugins/sdk"
)

// Object is a plugin's BPF object loaded standalone: its program as a plain
// XDP program, and its maps, which belong to this load alone.
type Object struct {
	// Program is the plugin's XDP program.
	Program *ebpf.Program
	// Collection holds every program and map of the object, by name in the
	// object.
	Collection *ebpf.Collection
	// Maps are the object's maps as the plugin's Configure sees them, by
	// name in the object (".bss", "hits", ...): what the daemon hands the
	// plugin, for one interface named "".
	Maps *sdk.Maps
}

// Load loads the BPF ELF object (a plugin's go:embed'ded object, what its
// Describe returns) and its XDP program called program, standalone: no
// dispatcher, no bpffs. Everything is closed when the test ends. It skips
// without root (RequireRoot) and fails the test when the object does not
// load (the verifier's log included).
func Load(tb testing.TB, object []byte, program string) *Object {
	tb.Helper()
	RequireRoot(tb)
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(object))
	if err != nil {
		tb.Fatalf("reading the BPF object: %v", err)
	}
	if ps := spec.Programs[program]; ps == nil {
		tb.Fatalf("the BPF object has no program %q (it has %s)", program, strings.Join(programNames(spec), ", "))
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		tb.Fatalf("loading the BPF object: %+v", err)
	}
	tb.Cleanup(coll.Close)
	maps, err := sdk.NewMaps(coll.Maps)
	if err != nil {
		tb.Fatalf("describing the maps: %v", err)
	}
	return &Object{Program: coll.Programs[program], Collection: coll, Maps: maps}
}

func programNames(spec *ebpf.CollectionSpec) []string {
	var names []string
	for n := range spec.Programs {
		names = append(names, n)
	}
	return names
}

// LoadPlugin loads the object and program the plugin's Describe returns,
// as Load does.
func LoadPlugin(tb testing.TB, p sdk.Plugin) *Object {
	tb.Helper()
	d := p.Describe()
	return Load(tb, d.Object, d.ProgramName)
}

// Run runs pkt through the object's program (BPF_PROG_TEST_RUN) and returns
// its verdict; see the function Run.
func (o *Object) Run(tb testing.TB, pkt []byte) sdk.Verdict {
	tb.Helper()
	return Run(tb, o.Program, pkt)
}

// Configure calls p's Configure with settings (see Settings) and the
// object's maps, with no Host handle, as the daemon would after putting
// the program into a chain.
func (o *Object) Configure(p sdk.Plugin, settings any) error {
	s, err := settingsOf(settings)
	if err != nil {
		return err
	}
	return p.Configure(context.Background(), s, o.Maps, nil)
}

// Settings returns settings for a plugin's Configure or Validate: v
// marshalled to a JSON object, or, when v is a string or []byte, v itself
// as JSON text. It panics when v does not marshal.
func Settings(v any) sdk.Settings {
	s, err := settingsOf(v)
	if err != nil {
		panic("sdktest.Settings: " + err.Error())
	}
	return s
}

func settingsOf(v any) (sdk.Settings, error) {
	switch v := v.(type) {
	case nil:
		return sdk.SettingsFromJSON(nil), nil
	case sdk.Settings:
		return v, nil
	case string:
		return sdk.SettingsFromJSON([]byte(v)), nil
	case []byte:
		return sdk.SettingsFromJSON(v), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return sdk.Settings{}, fmt.Errorf("encoding settings: %w", err)
	}
	return sdk.SettingsFromJSON(b), nil
}

// LoadObjects loads a plugin's objects with a function bpf2go generates
// (loadXObjects) into objs (a pointer to its xObjects struct, so that the
// test reaches programs and maps by their generated fields), closes them when
// the test ends, and returns the maps as the plugin's Configure sees them:
// every *ebpf.Map field of objs (embedded structs included), by the name in
// its `ebpf:"..."` tag, which is the map's name in the object. It skips
// without root.
func LoadObjects(tb testing.TB, load func(obj any, opts *ebpf.CollectionOptions) error, objs io.Closer) *sdk.Maps {
	tb.Helper()
	RequireRoot(tb)
	if err := load(objs, nil); err != nil {
		tb.Fatalf("loading the BPF objects: %+v", err)
	}
	tb.Cleanup(func() { objs.Close() })
	found := map[string]*ebpf.Map{}
	collectMaps(reflect.ValueOf(objs), found)
	maps, err := sdk.NewMaps(found)
	if err != nil {
		tb.Fatalf("describing the maps: %v", err)
	}
	return maps
}

var mapType = reflect.TypeFor[*ebpf.Map]()

// collectMaps adds the tagged *ebpf.Map fields of the struct v points to.
func collectMaps(v reflect.Value, out map[string]*ebpf.Map) {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return
	}
	for i := range v.NumField() {
		f, sf := v.Field(i), v.Type().Field(i)
		// bpf2go embeds unexported structs (xMaps) with exported fields.
		if !sf.IsExported() && !sf.Anonymous {
			continue
		}
		if sf.Type == mapType {
			name, _, _ := strings.Cut(sf.Tag.Get("ebpf"), ",")
			if m := f.Interface().(*ebpf.Map); name != "" && m != nil {
				out[name] = m
			}
			continue
		}
		if sf.Type.Kind() == reflect.Struct {
			collectMaps(f, out)
		}
	}
}
