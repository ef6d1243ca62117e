package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/testprogs"
)

// writeConfig writes src as config.toml in a new directory that also holds
// an executable "plugin" and an object "prog.o", and returns its path.
func writeConfig(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "plugin"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, obj := range map[string][]byte{
		"prog.o":   testprogs.Object(testprogs.Noop),
		"multi.o":  testprogs.Object(testprogs.Multi),
		"notelf.o": []byte("not an ELF object"),
		"tiny.o":   []byte("x\n"),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), obj, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "notexec"), []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadValid(t *testing.T) {
	path := writeConfig(t, `
[daemon]
bpffs = "/sys/fs/bpf"
socket = "run/x.sock"
socket_group = "0"
state_dir = "/run/xdpchain-test"

[[interface]]
name = "eth0"
mode = "generic"
mechanism = "linked"
fallthrough = "drop"

[[interface]]
name = "veth0"
netns = "blue"

[[plugin]]
name = "blocklist"
command = "plugin"
args = ["-v"]
sha256 = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
interfaces = ["*"]
priority = 10
proceed_on = ["pass"]
on_exit = "restart"
allowed_verdicts = ["drop", "pass"]

[plugin.settings]
prefixes = ["192.0.2.0/24"]
nested = { a = 1 }

[[program]]
name = "counter"
object = "prog.o"
program = "xdp_count"
interfaces = ["blue/veth0"]
shadow = true

[[grant]]
user = "1234"
interfaces = ["eth0"]
priority_min = 100
priority_max = 200
verdicts = ["pass", "drop"]
`)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(path)
	if cfg.File != path {
		t.Errorf("File = %q, want %q", cfg.File, path)
	}
	wantDaemon := Daemon{BPFFS: "/sys/fs/bpf", Socket: filepath.Join(dir, "run/x.sock"), SocketGroup: "0", SocketGID: 0, StateDir: "/run/xdpchain-test"}
	if cfg.Daemon != wantDaemon {
		t.Errorf("Daemon = %+v, want %+v", cfg.Daemon, wantDaemon)
	}
	wantIfaces := []Interface{
		{Name: "eth0", Mode: dispatcher.ModeSKB, Mechanism: dispatcher.Linked, Fallthrough: dispatcher.Drop, Line: 8},
		{Name: "veth0", NetNS: "blue", Mode: dispatcher.ModeAuto, Mechanism: dispatcher.AutoMechanism, Fallthrough: dispatcher.Pass, Line: 14},
	}
	if !reflect.DeepEqual(cfg.Interfaces, wantIfaces) {
		t.Errorf("Interfaces = %+v, want %+v", cfg.Interfaces, wantIfaces)
	}
	prio := 10
	pass := dispatcher.NewVerdictSet(dispatcher.Pass)
	wantPlugin := Plugin{
		Name: "blocklist", Command: filepath.Join(dir, "plugin"), Args: []string{"-v"},
		SHA256:     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		Interfaces: []string{"eth0", "blue/veth0"}, Priority: &prio, ProceedOn: &pass,
		OnExit: Restart, AllowedVerdicts: dispatcher.NewVerdictSet(dispatcher.Drop, dispatcher.Pass),
		Settings: map[string]any{"prefixes": []any{"192.0.2.0/24"}, "nested": map[string]any{"a": int64(1)}},
		Line:     18,
	}
	if len(cfg.Plugins) != 1 || !reflect.DeepEqual(cfg.Plugins[0], wantPlugin) {
		t.Errorf("Plugins = %+v, want [%+v]", cfg.Plugins, wantPlugin)
	}
	wantProgram := Program{
		Name: "counter", Object: filepath.Join(dir, "prog.o"), Program: "xdp_count",
		Interfaces: []string{"blue/veth0"}, Shadow: true, Line: 33,
	}
	if len(cfg.Programs) != 1 || !reflect.DeepEqual(cfg.Programs[0], wantProgram) {
		t.Errorf("Programs = %+v, want [%+v]", cfg.Programs, wantProgram)
	}
	wantGrant := Grant{
		User: "1234", UID: 1234, GID: -1, Interfaces: []string{"eth0"},
		PriorityMin: 100, PriorityMax: 200,
		Verdicts: dispatcher.NewVerdictSet(dispatcher.Pass, dispatcher.Drop), Line: 40,
	}
	if len(cfg.Grants) != 1 || !reflect.DeepEqual(cfg.Grants[0], wantGrant) {
		t.Errorf("Grants = %+v, want [%+v]", cfg.Grants, wantGrant)
	}
}

func TestLoadDefaults(t *testing.T) {
	cfg, err := Load(writeConfig(t, `
[[interface]]
name = "eth0"
[[plugin]]
name = "p"
command = "plugin"
interfaces = ["eth0"]
[[grant]]
group = "0"
interfaces = ["eth0"]
`))
	if err != nil {
		t.Fatal(err)
	}
	if d := cfg.Daemon; d.BPFFS != "/sys/fs/bpf" || d.Socket != DefaultSocket || d.StateDir != "/run/xdpchain" || d.SocketGID != -1 {
		t.Errorf("daemon defaults: %+v", d)
	}
	p := cfg.Plugins[0]
	if p.OnExit != Keep || p.Priority != nil || p.ProceedOn != nil || p.AllowedVerdicts != 0 || p.Settings == nil {
		t.Errorf("plugin defaults: %+v", p)
	}
	g := cfg.Grants[0]
	if g.UID != -1 || g.GID != 0 || g.PriorityMin != MinPriority || g.PriorityMax != MaxPriority || g.Verdicts != dispatcher.AllVerdicts {
		t.Errorf("grant defaults: %+v", g)
	}
}

// TestLoadXSK: xsk = true is a [[program]] without an object, and the
// file checks pass without one.
func TestLoadXSK(t *testing.T) {
	path := writeConfig(t, `
[[interface]]
name = "eth0"
[[program]]
name = "afxdp"
xsk = true
interfaces = ["eth0"]
`)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if p := cfg.Programs[0]; !p.XSK || p.Object != "" || p.Program != "" {
		t.Errorf("xsk program: %+v", p)
	}
	if err := cfg.CheckFiles(); err != nil {
		t.Errorf("CheckFiles: %v", err)
	}
}

// TestLoadErrors checks every error Load reports: its line, its key, and a
// part of its message. Several errors in one file are all reported.
func TestLoadErrors(t *testing.T) {
	const iface = "[[interface]]\nname = \"eth0\"\n" // lines 1-2
	type want struct {
		line int
		key  string
		msg  string
	}
	for _, tc := range []struct {
		name string
		src  string
		want []want
	}{
		{"syntax", "[daemon]\nsocket = \n", []want{{2, "daemon.socket", "expected value"}}},
		{"unknown top-level key", "deamon = 1\n[daemon]\n", []want{{1, "deamon", "unknown key"}}},
		{"unknown top-level table", iface + "[plugins]\nx = 1\n", []want{{3, "plugins", "unknown key"}}},
		{"unknown daemon key", "[daemon]\nsocket = \"/s\"\nsockt_group = \"x\"\n", []want{{3, "daemon.sockt_group", "unknown key"}}},
		{"daemon not a table", "daemon = 5\n", []want{{1, "daemon", "want a table"}}},
		{"interface not an array", "interface = \"eth0\"\n", []want{{1, "interface", "want an array of tables"}}},
		{"wrong type", "[daemon]\nsocket = 5\n", []want{{2, "daemon.socket", "want a string, got an integer"}}},
		{"empty socket", "[daemon]\nsocket = \"\"\n", []want{{2, "daemon.socket", "empty path"}}},
		{"unknown socket group", "[daemon]\nsocket_group = \"no-such-group-xdpchain\"\n", []want{{2, "daemon.socket_group", "unknown group"}}},
		{"interface without name", "[[interface]]\nmode = \"skb\"\n", []want{{1, "interface[0].name", "missing"}}},
		{"bad interface name", "[[interface]]\nname = \"a/b\"\n", []want{{2, "interface[0].name", "bad interface name"}}},
		{"long interface name", "[[interface]]\nname = \"abcdefghijklmnop\"\n", []want{{2, "interface[0].name", "bad interface name"}}},
		{"bad mode", iface + "mode = \"fast\"\n", []want{{3, "interface[0].mode", `unknown mode "fast"`}}},
		{"bad mechanism", iface + "mechanism = \"tail\"\n", []want{{3, "interface[0].mechanism", `unknown mechanism "tail"`}}},
		{"bad fallthrough", iface + "fallthrough = \"accept\"\n", []want{{3, "interface[0].fallthrough", `unknown verdict "accept"`}}},
		{"aborted fallthrough", iface + "fallthrough = \"aborted\"\n", []want{{3, "interface[0].fallthrough", `cannot be the fall-through verdict`}}},
		{"unknown interface key", iface + "nets = \"x\"\n", []want{{3, "interface[0].nets", "unknown key"}}},
		{"duplicate interface", iface + iface, []want{{4, "interface[1].name", `duplicate interface "eth0" (first at line 1)`}}},
		{"second interface's error at its own line", iface + "mode = \"skb\"\n[[interface]]\nname = \"eth1\"\nmode = \"x\"\n", []want{{6, "interface[1].mode", "unknown mode"}}},
		{"plugin missing keys", iface + "[[plugin]]\nname = \"p\"\n", []want{
			{3, "plugin[0].command", "missing"},
			{3, "plugin[0].interfaces", "missing"},
		}},
		{"plugin bad name", iface + "[[plugin]]\nname = \"a b\"\ncommand = \"plugin\"\ninterfaces = [\"eth0\"]\n", []want{{4, "plugin[0].name", "bad name"}}},
		{"plugin bad sha256", iface + "[[plugin]]\nname = \"p\"\ncommand = \"plugin\"\nsha256 = \"abc\"\ninterfaces = [\"eth0\"]\n", []want{{6, "plugin[0].sha256", "64 hexadecimal"}}},
		{"plugin unknown interface", iface + "[[plugin]]\nname = \"p\"\ncommand = \"plugin\"\ninterfaces = [\"eth0\", \"eth9\"]\n", []want{{6, "plugin[0].interfaces", `unknown interface "eth9"`}}},
		{"plugin empty interfaces", iface + "[[plugin]]\nname = \"p\"\ncommand = \"plugin\"\ninterfaces = []\n", []want{{6, "plugin[0].interfaces", "empty list"}}},
		{"plugin priority out of range", iface + "[[plugin]]\nname = \"p\"\ncommand = \"plugin\"\ninterfaces = [\"eth0\"]\npriority = 1001\n", []want{{7, "plugin[0].priority", "priority 1001 out of range [0, 1000]"}}},
		{"plugin negative priority", iface + "[[plugin]]\nname = \"p\"\ncommand = \"plugin\"\ninterfaces = [\"eth0\"]\npriority = -1\n", []want{{7, "plugin[0].priority", "out of range"}}},
		{"plugin priority not an integer", iface + "[[plugin]]\nname = \"p\"\ncommand = \"plugin\"\ninterfaces = [\"eth0\"]\npriority = \"high\"\n", []want{{7, "plugin[0].priority", "want an integer, got a string"}}},
		{"plugin bad proceed_on", iface + "[[plugin]]\nname = \"p\"\ncommand = \"plugin\"\ninterfaces = [\"eth0\"]\nproceed_on = [\"pass\", \"continue\"]\n", []want{{7, "plugin[0].proceed_on", `unknown verdict "continue"`}}},
		{"plugin proceed_on not a list", iface + "[[plugin]]\nname = \"p\"\ncommand = \"plugin\"\ninterfaces = [\"eth0\"]\nproceed_on = \"pass\"\n", []want{{7, "plugin[0].proceed_on", "want an array of strings, got a string"}}},
		{"plugin bad on_exit", iface + "[[plugin]]\nname = \"p\"\ncommand = \"plugin\"\ninterfaces = [\"eth0\"]\non_exit = \"panic\"\n", []want{{7, "plugin[0].on_exit", `unknown policy "panic"`}}},
		{"plugin unknown user", iface + "[[plugin]]\nname = \"p\"\ncommand = \"plugin\"\ninterfaces = [\"eth0\"]\nuser = \"no-such-user-xdpchain\"\n", []want{{7, "plugin[0].user", "unknown user"}}},
		{"plugin empty allowed_verdicts", iface + "[[plugin]]\nname = \"p\"\ncommand = \"plugin\"\ninterfaces = [\"eth0\"]\nallowed_verdicts = []\n", []want{{7, "plugin[0].allowed_verdicts", "empty list"}}},
		{"plugin bad allowed_verdicts", iface + "[[plugin]]\nname = \"p\"\ncommand = \"plugin\"\ninterfaces = [\"eth0\"]\nallowed_verdicts = [\"XDP_DROP\", \"nope\"]\n", []want{{7, "plugin[0].allowed_verdicts", `unknown verdict "nope"`}}},
		{"plugin settings not a table", iface + "[[plugin]]\nname = \"p\"\ncommand = \"plugin\"\ninterfaces = [\"eth0\"]\nsettings = 3\n", []want{{7, "plugin[0].settings", "want a table"}}},
		{"plugin unknown key", iface + "[[plugin]]\nname = \"p\"\ncommand = \"plugin\"\ninterfaces = [\"eth0\"]\nprioriti = 3\n", []want{{7, "plugin[0].prioriti", "unknown key"}}},
		{"duplicate plugin", iface + "[[plugin]]\nname = \"p\"\ncommand = \"plugin\"\ninterfaces = [\"eth0\"]\n[[plugin]]\nname = \"p\"\ncommand = \"plugin\"\ninterfaces = [\"eth0\"]\n", []want{{8, "plugin[1].name", `duplicate plugin "p" (first at line 3)`}}},
		{"plugin and program share a name on an interface", iface + "[[plugin]]\nname = \"p\"\ncommand = \"plugin\"\ninterfaces = [\"eth0\"]\n[[program]]\nname = \"p\"\nobject = \"prog.o\"\ninterfaces = [\"eth0\"]\n", []want{{8, "program[0].name", `name "p" is already used by plugin[0] (line 3) on interface "eth0"`}}},
		{"program missing object", iface + "[[program]]\nname = \"x\"\ninterfaces = [\"eth0\"]\n", []want{{3, "program[0].object", "missing"}}},
		{"xsk program with an object", iface + "[[program]]\nname = \"x\"\nxsk = true\nobject = \"prog.o\"\ninterfaces = [\"eth0\"]\n", []want{{6, "program[0].object", "xsk = true loads the built-in AF_XDP program: no object"}}},
		{"xsk program with a program", iface + "[[program]]\nname = \"x\"\nxsk = true\nprogram = \"f\"\ninterfaces = [\"eth0\"]\n", []want{{6, "program[0].program", "no program"}}},
		{"program bad shadow", iface + "[[program]]\nname = \"x\"\nobject = \"prog.o\"\ninterfaces = [\"eth0\"]\nshadow = \"yes\"\n", []want{{7, "program[0].shadow", "want true or false, got a string"}}},
		{"duplicate program", iface + "[[program]]\nname = \"x\"\nobject = \"prog.o\"\ninterfaces = [\"eth0\"]\n[[program]]\nname = \"x\"\nobject = \"prog.o\"\ninterfaces = [\"eth0\"]\n", []want{{8, "program[1].name", `duplicate program "x" (first at line 3)`}}},
		{"grant without user or group", iface + "[[grant]]\ninterfaces = [\"eth0\"]\n", []want{{3, "grant[0]", "needs a user, a group, or both"}}},
		{"grant for root", iface + "[[grant]]\nuser = \"root\"\ninterfaces = [\"eth0\"]\n", []want{{4, "grant[0].user", "root needs no grant"}}},
		{"grant bad range", iface + "[[grant]]\nuser = \"1000\"\ninterfaces = [\"eth0\"]\npriority_min = 500\npriority_max = 100\n", []want{{7, "grant[0].priority_max", "below priority_min"}}},
		{"grant priority out of range", iface + "[[grant]]\nuser = \"1000\"\ninterfaces = [\"eth0\"]\npriority_max = 5000\n", []want{{6, "grant[0].priority_max", "out of range"}}},
		{"grant bad verdict", iface + "[[grant]]\nuser = \"1000\"\ninterfaces = [\"eth0\"]\nverdicts = [\"pass\", \"redirekt\"]\n", []want{{6, "grant[0].verdicts", `unknown verdict "redirekt"`}}},
		{"grant unknown interface", iface + "[[grant]]\nuser = \"1000\"\ninterfaces = [\"eth1\"]\n", []want{{5, "grant[0].interfaces", `unknown interface "eth1"`}}},
		{"ambiguous interface", "[[interface]]\nname = \"eth0\"\nnetns = \"red\"\n[[interface]]\nname = \"eth0\"\nnetns = \"blue\"\n[[grant]]\nuser = \"1000\"\ninterfaces = [\"eth0\"]\n", []want{{9, "grant[0].interfaces", "ambiguous"}}},
		{"netns-qualified reference is not ambiguous", "[[interface]]\nname = \"eth0\"\nnetns = \"red\"\n[[interface]]\nname = \"eth0\"\nnetns = \"blue\"\n[[grant]]\nuser = \"1000\"\ninterfaces = [\"blue/eth0\", \"eth3\"]\n", []want{{9, "grant[0].interfaces", `unknown interface "eth3"`}}},
		{"many errors, all reported, in file order", iface + "mode = \"x\"\n[[plugin]]\nname = \"p\"\ncommand = \"plugin\"\ninterfaces = [\"eth0\"]\npriority = 2000\non_exit = \"x\"\n[daemon]\nfoo = 1\n", []want{
			{3, "interface[0].mode", "unknown mode"},
			{8, "plugin[0].priority", "out of range"},
			{9, "plugin[0].on_exit", "unknown policy"},
			{11, "daemon.foo", "unknown key"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.src)
			cfg, err := Load(path)
			if err == nil {
				t.Fatalf("Load succeeded: %+v", cfg)
			}
			if cfg != nil {
				t.Errorf("Load returned a config with its error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			got := Errors(err)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(got), len(tc.want), err)
			}
			for i, w := range tc.want {
				g := got[i]
				if g.File != path || g.Line != w.line || g.Key != w.key || !strings.Contains(g.Msg, w.msg) {
					t.Errorf("error %d = %q (line %d, key %q), want line %d, key %q, message containing %q", i, g, g.Line, g.Key, w.line, w.key, w.msg)
				}
				prefix := path + ":" + strconv.Itoa(w.line) + ": "
				if !strings.HasPrefix(g.Error(), prefix) {
					t.Errorf("error %q does not start with %q", g, prefix)
				}
			}
		})
	}
}

func TestCheckFiles(t *testing.T) {
	const iface = "[[interface]]\nname = \"eth0\"\n"
	path := writeConfig(t, iface+`[[plugin]]
name = "ok"
command = "plugin"
interfaces = ["eth0"]
[[plugin]]
name = "missing"
command = "nope"
interfaces = ["eth0"]
[[plugin]]
name = "notexec"
command = "notexec"
interfaces = ["eth0"]
[[plugin]]
name = "dir"
interfaces = ["eth0"]
command = "."
[[program]]
name = "good"
object = "prog.o"
interfaces = ["eth0"]
[[program]]
name = "bad"
interfaces = ["eth0"]
object = "missing.o"
[[program]]
name = "notelf"
interfaces = ["eth0"]
object = "notelf.o"
[[program]]
name = "tiny"
interfaces = ["eth0"]
object = "tiny.o"
[[program]]
name = "two"
interfaces = ["eth0"]
object = "multi.o"
[[program]]
name = "second"
interfaces = ["eth0"]
object = "multi.o"
program = "second"
[[program]]
name = "third"
interfaces = ["eth0"]
object = "multi.o"
program = "third"
`)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(path)
	err = cfg.CheckFiles()
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("CheckFiles: %v, want ErrInvalid", err)
	}
	want := []string{
		path + ":9: plugin[1].command: " + dir + "/nope: no such file or directory",
		path + ":13: plugin[2].command: " + dir + "/notexec: not executable",
		path + ":18: plugin[3].command: " + dir + ": not a regular file",
		path + ":26: program[1].object: " + dir + "/missing.o: no such file or directory",
		path + ":30: program[2].object: " + dir + `/notelf.o: loading program: not an ELF object (it starts with "not an E")`,
		path + ":34: program[3].object: " + dir + "/tiny.o: loading program: not an ELF object (2 bytes)",
		path + ":38: program[4].object: " + dir + "/multi.o: invalid chain: object has several XDP programs [first second]: name the one to load with program = (one of \"first\", \"second\")",
		path + ":47: program[6].object: " + dir + `/multi.o: loading program: object has no program "third" (XDP programs: [first second])`,
	}
	got := Errors(err)
	if len(got) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(got), len(want), err)
	}
	for i := range want {
		if got[i].Error() != want[i] {
			t.Errorf("error %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.toml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load of a missing file: %v, want os.ErrNotExist", err)
	}
}

// TestRepositoryConfig loads the repository's own config.toml.
func TestRepositoryConfig(t *testing.T) {
	cfg, err := Load("../config.toml")
	if err != nil {
		t.Fatalf("the repository's config.toml does not load:\n%v", err)
	}
	if len(cfg.Interfaces) == 0 || len(cfg.Plugins) == 0 || len(cfg.Programs) == 0 || len(cfg.Grants) == 0 {
		t.Errorf("config.toml should show every section: %d interfaces, %d plugins, %d programs, %d grants",
			len(cfg.Interfaces), len(cfg.Plugins), len(cfg.Programs), len(cfg.Grants))
	}
}

// TestLoadDaemon reads the [daemon] table alone, with Load's checks of it,
// and ignores problems elsewhere in the file.
func TestLoadDaemon(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	d, err := LoadDaemon(write("ok.toml", "[daemon]\nsocket = \"s.sock\"\nbpffs = \"/b\"\n[[program]]\nname = \"bad name\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Socket != filepath.Join(dir, "s.sock") || d.BPFFS != "/b" || d.StateDir != "/run/xdpchain" {
		t.Errorf("LoadDaemon = %+v", d)
	}
	if _, err := Load(filepath.Join(dir, "ok.toml")); err == nil {
		t.Error("Load accepted the bad program name")
	}
	bad := write("bad.toml", "[daemon]\nstate_dir = \"\"\n")
	if _, err := LoadDaemon(bad); err == nil || !strings.Contains(err.Error(), bad+":2: daemon.state_dir: empty path") {
		t.Errorf("LoadDaemon(empty state_dir) = %v", err)
	}
}
