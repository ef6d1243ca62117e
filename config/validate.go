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

	// Checking stays linear in the file's size: "*" resolves to one shared
	// list of every interface, and once more (entry, interface) pairs are
	// claimed than the interfaces can hold, some interface is certainly
	// over its limit (reported below) and further claims are skipped.
	all := make([]string, 0, len(cfg.Interfaces))
	for i := range cfg.Interfaces {
		if r := cfg.Interfaces[i].Ref(); seen[r] == i && cfg.Interfaces[i].Name != "" {
			all = append(all, r)
		}
	}
	all = all[:len(all):len(all)] // an append to a shared list copies it
	resolve := func(path []string, refs []string) []string {
		var out []string
		star := false
		dup := make(map[string]bool)
		add := func(r string) {
			if !star && !dup[r] {
				dup[r] = true
				out = append(out, r)
			}
		}
		for _, r := range refs {
			_, exact := seen[r]
			switch {
			case r == "*":
				star = true
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
		if star {
			return all
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
	pairs, capacity := 0, dispatcher.MaxPrograms*len(all)
	claim := func(key, name string, line int, refs []string) {
		if pairs > capacity {
			return
		}
		pairs += len(refs)
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
			atLeast := ""
			if pairs > capacity {
				atLeast = "at least " // the count stopped there
			}
			d.errorf([]string{element("interface", i)}, "%s%d programs configured, at most %d fit the dispatcher", atLeast, n, dispatcher.MaxPrograms)
		}
	}
}
