package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// Load reads, decodes and validates the config file at path: syntax, types,
// unknown keys, values, names and references between sections; users and
// groups must resolve. It never touches the kernel, and does not look for
// the commands and objects the file names: CheckFiles does.
//
// Every problem found is reported: the returned error joins one *Error per
// problem (see Errors), each unwrapping to ErrInvalid. A file that cannot be
// read is returned as is (wrapping fs errors).
func Load(path string) (*Config, error) {
	return load(path, decodeAll)
}

// LoadDaemon reads only the [daemon] table of the config file at path,
// with the checks Load makes of that table: the paths a client needs to
// find the daemon's socket, pins and state. The other sections are not
// decoded, so a client still finds the daemon while they are being
// edited. Errors are as Load's.
func LoadDaemon(path string) (Daemon, error) {
	cfg, err := load(path, func(d *decoder, cfg *Config, top map[string]toml.Primitive) {
		cfg.Daemon = d.daemon(top)
	})
	if err != nil {
		return Daemon{}, err
	}
	return cfg.Daemon, nil
}

// load reads the file at path and decodes it with fill (see decodeWith).
func load(path string, fill func(*decoder, *Config, map[string]toml.Primitive)) (*Config, error) {
	data, err := readConfig(path)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return decodeWith(path, abs, data, fill)
}

// MaxSize bounds a config file. A real one is a few KiB; the bound keeps
// the cost of checking one (time and memory, both linear in its size) small.
const MaxSize = 1 << 20

// readConfig reads the file at path, refusing one larger than MaxSize
// before reading it.
func readConfig(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > MaxSize {
		return nil, tooLarge(path, fi.Size())
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	if len(data) > MaxSize {
		return nil, tooLarge(path, int64(len(data)))
	}
	return data, nil
}

func tooLarge(file string, size int64) error {
	return &Error{File: file, Msg: fmt.Sprintf("the file is %d bytes, more than the %d (1 MiB) a config may have", size, MaxSize)}
}

// decodeAll decodes every section and cross-checks them: Load's fill.
func decodeAll(d *decoder, cfg *Config, top map[string]toml.Primitive) {
	d.decode(cfg, top)
	d.validate(cfg)
}

// decodeWith checks data's shape and syntax, then has fill decode what it
// wants of the top-level tables; the problems fill records are returned.
func decodeWith(file, abs string, data []byte, fill func(*decoder, *Config, map[string]toml.Primitive)) (*Config, error) {
	if len(data) > MaxSize {
		return nil, tooLarge(file, int64(len(data)))
	}
	if err := checkShape(file, data); err != nil {
		return nil, err
	}
	d := &decoder{file: file, dir: filepath.Dir(abs)}
	var top map[string]toml.Primitive
	md, err := toml.Decode(string(data), &top)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &Error{File: file, Line: pe.Position.Line, Key: pe.LastKey, Msg: pe.Message}
		}
		return nil, &Error{File: file, Msg: err.Error()}
	}
	d.md = md
	d.loc = locate(data)

	cfg := &Config{File: abs, file: file, loc: d.loc}
	fill(d, cfg, top)
	if len(d.errs) > 0 {
		sort.SliceStable(d.errs, func(i, j int) bool { return d.errs[i].Line < d.errs[j].Line })
		errs := make([]error, len(d.errs))
		for i, e := range d.errs {
			errs[i] = e
		}
		return nil, errors.Join(errs...)
	}
	return cfg, nil
}

type decoder struct {
	file string
	dir  string
	md   toml.MetaData
	loc  *locator
	errs []*Error
}

// errorf records a problem with the key at path.
func (d *decoder) errorf(path []string, format string, args ...any) {
	d.errs = append(d.errs, &Error{
		File: d.file,
		Line: d.loc.line(path),
		Key:  strings.Join(path, "."),
		Msg:  fmt.Sprintf(format, args...),
	})
}

// resolve makes p absolute against the config file's directory.
func (d *decoder) resolve(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(d.dir, p)
}

// table is one TOML table being decoded into a struct by hand, so that every
// bad key is reported at its own line.
type table struct {
	d    *decoder
	path []string
	m    map[string]toml.Primitive
	used map[string]bool
}

func (d *decoder) table(path []string, m map[string]toml.Primitive) *table {
	return &table{d: d, path: path, m: m, used: make(map[string]bool)}
}

func (t *table) keyPath(key string) []string {
	return append(append([]string(nil), t.path...), key)
}

func (t *table) errorf(key, format string, args ...any) {
	t.d.errorf(t.keyPath(key), format, args...)
}

// get decodes key into dst, which must point at the wanted Go type. It
// reports whether the key was present and well typed.
func (t *table) get(key string, dst any, want string) bool {
	t.used[key] = true
	prim, ok := t.m[key]
	if !ok {
		return false
	}
	if err := t.d.md.PrimitiveDecode(prim, dst); err != nil {
		t.errorf(key, "want %s, got %s", want, t.d.typeOf(prim))
		return false
	}
	return true
}

// table decodes key, which must be a TOML table, into dst.
func (t *table) table(key string, dst *map[string]any) bool {
	prim, ok := t.m[key]
	if !ok {
		t.used[key] = true
		return false
	}
	if got := t.d.typeOf(prim); got != "a table" {
		t.used[key] = true
		t.errorf(key, "want a table, got %s", got)
		return false
	}
	return t.get(key, dst, "a table")
}

func (t *table) has(key string) bool { _, ok := t.m[key]; return ok }

func (t *table) str(key string, dst *string) bool { return t.get(key, dst, "a string") }

func (t *table) strs(key string, dst *[]string) bool {
	return t.get(key, dst, "an array of strings")
}

func (t *table) integer(key string, dst *int) bool { return t.get(key, dst, "an integer") }

func (t *table) boolean(key string, dst *bool) bool { return t.get(key, dst, "true or false") }

// done reports the keys nobody asked for.
func (t *table) done() {
	var unknown []string
	for k := range t.m {
		if !t.used[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		t.errorf(k, "unknown key")
	}
}

// typeOf names the TOML type of a value for error messages.
func (d *decoder) typeOf(p toml.Primitive) string {
	var v any
	if err := d.md.PrimitiveDecode(p, &v); err != nil {
		return "a value of another type"
	}
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	case []map[string]any:
		return "an array of tables"
	}
	return fmt.Sprintf("a %T", v)
}

// section decodes a top-level table.
func (d *decoder) section(top map[string]toml.Primitive, name string) (*table, bool) {
	prim, ok := top[name]
	if !ok {
		return nil, false
	}
	// The library decodes a non-table into a map as nothing, without an
	// error: check the type first.
	var m map[string]toml.Primitive
	if got := d.typeOf(prim); got != "a table" {
		d.errorf([]string{name}, "want a table ([%s]), got %s", name, got)
		return nil, false
	}
	if err := d.md.PrimitiveDecode(prim, &m); err != nil {
		d.errorf([]string{name}, "want a table ([%s]), got %s", name, d.typeOf(prim))
		return nil, false
	}
	return d.table([]string{name}, m), true
}

// array decodes a top-level array of tables.
func (d *decoder) array(top map[string]toml.Primitive, name string) []*table {
	prim, ok := top[name]
	if !ok {
		return nil
	}
	var ms []map[string]toml.Primitive
	if got := d.typeOf(prim); got != "an array of tables" {
		d.errorf([]string{name}, "want an array of tables ([[%s]]), got %s", name, got)
		return nil
	}
	if err := d.md.PrimitiveDecode(prim, &ms); err != nil {
		d.errorf([]string{name}, "want an array of tables ([[%s]]), got %s", name, d.typeOf(prim))
		return nil
	}
	out := make([]*table, len(ms))
	for i, m := range ms {
		out[i] = d.table([]string{element(name, i)}, m)
	}
	return out
}

// decode fills cfg from the top-level tables, recording type errors and
// unknown keys; cross-checks come after, in validate.
func (d *decoder) decode(cfg *Config, top map[string]toml.Primitive) {
	known := map[string]bool{"daemon": true, "interface": true, "plugin": true, "program": true, "grant": true}
	var unknown []string
	for k := range top {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		d.errorf([]string{k}, "unknown key (want daemon, interface, plugin, program or grant)")
	}

	cfg.Daemon = d.daemon(top)
	for _, t := range d.array(top, "interface") {
		cfg.Interfaces = append(cfg.Interfaces, d.iface(t))
	}
	for _, t := range d.array(top, "plugin") {
		cfg.Plugins = append(cfg.Plugins, d.plugin(t))
	}
	for _, t := range d.array(top, "program") {
		cfg.Programs = append(cfg.Programs, d.program(t))
	}
	for _, t := range d.array(top, "grant") {
		cfg.Grants = append(cfg.Grants, d.grant(t))
	}
}
