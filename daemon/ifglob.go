package daemon

import (
	"context"
	"errors"
	"path"
	"slices"

	"github.com/vishvananda/netlink"

	"github.com/vishvananda/netns"
	"github.com/xdpchain/xdpchain/internal/nlretry"

	"github.com/xdpchain/xdpchain/config"
	"github.com/xdpchain/xdpchain/dispatcher"
)

// Interface patterns: an [[interface]] whose name is a glob ("eth*",
// "ens[0-9]*", see path.Match) stands for every interface of its network
// namespace whose name matches, now and when one appears. The daemon
// applies an expanded config (expandInterfaces): the pattern's entry is
// replaced by one entry per matching interface, and every reference to it
// (plugins, programs, grants, "*") by references to those. Link events and
// the periodic drift check expand the file's config again (reexpand); when
// the matching interfaces changed, the config is applied again, as a
// reload would: new interfaces get their roots, chains and plugin
// processes, vanished ones are forgotten.

// expandInterfaces returns src with its interface patterns expanded, and
// without the interfaces it names that do not exist yet (and that the
// daemon has no root on): those get their chain when they appear, as a
// pattern's matches do. A name listed explicitly in the same namespace is
// not taken by a pattern, and a name two patterns match goes to the first.
// Call with d.mu held.
func (d *Daemon) expandInterfaces(src *config.Config) *config.Config {
	names := make(map[string][]string) // netns -> link names, listed once
	listed := make(map[string]bool)    // netns -> listing them worked
	links := func(itf *config.Interface) []string {
		l, ok := names[itf.NetNS]
		if !ok {
			var err error
			if l, err = linkNames(itf.NetNS); err != nil {
				d.log.Debug("listing interfaces failed", "netns", itf.NetNS, "error", err)
			}
			names[itf.NetNS], listed[itf.NetNS] = l, err == nil
		}
		return l
	}
	waiting := make(map[string]bool)
	for i := range src.Interfaces {
		itf := &src.Interfaces[i]
		// Only an interface known to be absent waits: when the namespace
		// cannot be read (missing, or no privilege), applying says why.
		if !config.IsPattern(itf.Name) && d.roots[itf.Ref()] == nil && !slices.Contains(links(itf), itf.Name) && listed[itf.NetNS] {
			waiting[itf.Ref()] = true
			if !d.health.waiting[itf.Ref()] {
				d.log.Warn("interface does not exist yet; its chain is applied when it appears", "interface", itf.Ref())
			}
		}
	}
	d.health.waiting = waiting
	if len(waiting) == 0 && !slices.ContainsFunc(src.Interfaces, func(i config.Interface) bool { return config.IsPattern(i.Name) }) {
		return src
	}
	out := *src
	out.Interfaces = nil
	taken := make(map[string]bool) // refs
	for _, itf := range src.Interfaces {
		if !config.IsPattern(itf.Name) {
			taken[itf.Ref()] = true
		}
	}
	refs := make(map[string][]string) // pattern (or waiting) ref -> refs in force
	for ref := range waiting {
		refs[ref] = []string{}
	}
	for _, itf := range src.Interfaces {
		if waiting[itf.Ref()] {
			continue
		}
		if !config.IsPattern(itf.Name) {
			out.Interfaces = append(out.Interfaces, itf)
			continue
		}
		pattern := itf.Ref()
		refs[pattern] = []string{}
		for _, name := range links(&itf) {
			if ok, _ := path.Match(itf.Name, name); !ok {
				continue
			}
			m := itf
			m.Name = name
			if taken[m.Ref()] {
				continue
			}
			taken[m.Ref()] = true
			out.Interfaces = append(out.Interfaces, m)
			refs[pattern] = append(refs[pattern], m.Ref())
		}
	}
	expand := func(list []string) []string {
		var l []string
		for _, r := range list {
			if m, ok := refs[r]; ok {
				l = append(l, m...)
			} else {
				l = append(l, r)
			}
		}
		return l
	}
	out.Plugins = slices.Clone(src.Plugins)
	for i := range out.Plugins {
		out.Plugins[i].Interfaces = expand(out.Plugins[i].Interfaces)
	}
	out.Programs = slices.Clone(src.Programs)
	for i := range out.Programs {
		out.Programs[i].Interfaces = expand(out.Programs[i].Interfaces)
	}
	out.Grants = slices.Clone(src.Grants)
	for i := range out.Grants {
		out.Grants[i].Interfaces = expand(out.Grants[i].Interfaces)
	}
	return &out
}

// linkNames lists the interfaces of a network namespace ("" the daemon's).
func linkNames(spec string) ([]string, error) {
	var h *netlink.Handle
	var err error
	if spec == "" {
		h, err = netlink.NewHandle()
	} else {
		var ns netns.NsHandle
		if ns, err = netns.GetFromPath(dispatcher.NetNSPath(spec)); err != nil {
			return nil, err
		}
		defer ns.Close()
		h, err = netlink.NewHandleAt(ns)
	}
	if err != nil {
		return nil, err
	}
	defer h.Close()
	links, err := nlretry.Dump(h.LinkList)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range links {
		out = append(out, l.Attrs().Name)
	}
	return out, nil
}

// forgetVanished closes and forgets the roots of interfaces that cfg no
// longer lists and that are gone (their root is stale: the kernel detached
// it): there is nothing to take the daemon's programs out of. Call with
// d.mu held, before applying cfg.
func (d *Daemon) forgetVanished(cfg *config.Config) {
	for ref, r := range d.roots {
		if cfg.Interface(ref) != nil {
			continue
		}
		if _, err := r.Status(); errors.Is(err, dispatcher.ErrNotAttached) {
			r.Close()
			delete(d.roots, ref)
			d.log.Info("interface is gone; forgetting it", "interface", ref)
		}
	}
}

// sourceConfig is the config as the file says it, patterns unexpanded.
func (d *Daemon) sourceConfig() *config.Config {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.source != nil {
		return d.source
	}
	return d.cfg
}

// reexpand applies the file's config again when the interfaces its
// patterns match differ from those in force: on link events in refs (nil:
// the periodic check). Call with d.mu held.
func (d *Daemon) reexpand(ctx context.Context, refs map[string]bool) {
	src := d.source
	if src == nil || (len(d.health.waiting) == 0 && !slices.ContainsFunc(src.Interfaces, func(i config.Interface) bool { return config.IsPattern(i.Name) })) {
		return
	}
	if refs != nil && !d.awaited(src, refs) {
		return
	}
	next := d.expandInterfaces(src)
	if slices.Equal(interfaceRefs(next), interfaceRefs(d.cfg)) {
		return
	}
	d.log.Info("the interfaces matching a pattern changed; applying the config again", "interfaces", interfaceRefs(next))
	if err := d.apply(ctx, src); err != nil {
		d.log.Error("applying the config for the interfaces matching a pattern failed; trying again at the next check", "error", err)
	}
}

// awaited reports whether a ref named by link events is an interface the
// config waits for, or matches one of its patterns (in its namespace).
func (d *Daemon) awaited(src *config.Config, refs map[string]bool) bool {
	for ref := range refs {
		if d.health.waiting[ref] {
			return true
		}
	}
	for _, itf := range src.Interfaces {
		if !config.IsPattern(itf.Name) {
			continue
		}
		for ref := range refs {
			m := itf
			m.Name = path.Base(ref)
			if ok, _ := path.Match(itf.Name, m.Name); ok && m.Ref() == ref {
				return true
			}
		}
	}
	return false
}

func interfaceRefs(cfg *config.Config) []string {
	var out []string
	for i := range cfg.Interfaces {
		out = append(out, cfg.Interfaces[i].Ref())
	}
	return out
}
