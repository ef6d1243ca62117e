package config

import "github.com/xdpchain/xdpchain/dispatcher"

// validate checks what spans sections: duplicate interfaces and names,
// interface references, chain lengths. It runs only on a config whose
// tables decoded, even with errors (entries without a name are skipped), and resolves interface references to Refs.
func (d *decoder) validate(cfg *Config) {
	seen := make(map[string]int) // Ref -> index
	byName := make(map[string][]int)
	for i := range cfg.Interfaces {
		itf := &cfg.Interfaces[i]
		if itf.Name == "" {
			continue
		}
		if j, ok := seen[itf.Ref()]; ok {
			d.errorf([]string{element("interface", i), "name"}, "duplicate interface %q (first at line %d)", itf.Ref(), cfg.Interfaces[j].Line)
			continue
		}
		seen[itf.Ref()] = i
		byName[itf.Name] = append(byName[itf.Name], i)
	}

	resolve := func(path []string, refs []string) []string {
		var out []string
		add := func(r string) {
			if !contains(out, r) {
				out = append(out, r)
			}
		}
		for _, r := range refs {
			_, exact := seen[r]
			switch {
			case r == "*":
				for i := range cfg.Interfaces {
					add(cfg.Interfaces[i].Ref())
				}
			case exact:
				add(r)
			case len(byName[r]) == 1:
				add(cfg.Interfaces[byName[r][0]].Ref())
			case len(byName[r]) > 1:
				d.errorf(path, "interface %q is ambiguous: it exists in several network namespaces; write NETNS/%s", r, r)
			default:
				d.errorf(path, "unknown interface %q (no [[interface]] has it)", r)
			}
		}
		return out
	}

	// Which entry uses a name on an interface: "plugin[0]" / "program[2]".
	type user struct {
		key  string
		line int
	}
	onIface := make(map[string]map[string]user) // Ref -> name -> first user
	count := make(map[string]int)
	claim := func(key, name string, line int, refs []string) {
		reported := false
		for _, r := range refs {
			if onIface[r] == nil {
				onIface[r] = make(map[string]user)
			}
			count[r]++
			if u, ok := onIface[r][name]; ok {
				if !reported {
					d.errorf([]string{key, "name"}, "name %q is already used by %s (line %d) on interface %q", name, u.key, u.line, r)
					reported = true
				}
				continue
			}
			onIface[r][name] = user{key, line}
		}
	}

	// Plugin names are unique among plugins, program names among programs;
	// both share one namespace per interface.
	unique := func(kind string, n int, entry func(i int) (name string, refs *[]string, line int)) {
		first := make(map[string]int) // name -> line
		for i := 0; i < n; i++ {
			name, refs, line := entry(i)
			key := element(kind, i)
			*refs = resolve([]string{key, "interfaces"}, *refs)
			if name == "" {
				continue
			}
			if l, ok := first[name]; ok {
				d.errorf([]string{key, "name"}, "duplicate %s %q (first at line %d)", kind, name, l)
				continue
			}
			first[name] = line
			claim(key, name, line, *refs)
		}
	}
	unique("plugin", len(cfg.Plugins), func(i int) (string, *[]string, int) {
		p := &cfg.Plugins[i]
		return p.Name, &p.Interfaces, p.Line
	})
	unique("program", len(cfg.Programs), func(i int) (string, *[]string, int) {
		p := &cfg.Programs[i]
		return p.Name, &p.Interfaces, p.Line
	})
	for i := range cfg.Grants {
		g := &cfg.Grants[i]
		g.Interfaces = resolve([]string{element("grant", i), "interfaces"}, g.Interfaces)
	}
	for i := range cfg.Interfaces {
		itf := &cfg.Interfaces[i]
		if n := count[itf.Ref()]; n > dispatcher.MaxPrograms {
			d.errorf([]string{element("interface", i)}, "%d programs configured, at most %d fit the dispatcher", n, dispatcher.MaxPrograms)
		}
	}
}
