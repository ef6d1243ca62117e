package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/xdpchain/xdpchain/internal/testutil"
)

// dispatcherVariant is a model of the dispatcher's root, written in C for
// BenchmarkDispatcherVariants: N global no-op slot functions (what linking
// produces) behind one of four versions of the per-slot glue.
type dispatcherVariant struct {
	// fold bakes the configuration in as compile-time constants (what a
	// loader emitting the root's instructions itself would produce)
	// instead of reading a volatile const .rodata struct.
	fold bool
	// single keeps every counter in one per-CPU value looked up once per
	// packet instead of one lookup per slot.
	single bool
}

func (v dispatcherVariant) String() string {
	s := "cur"
	if v.fold {
		s = "fold"
	}
	if v.single {
		s += "1"
	}
	return s
}

// source writes the C of the variant for n programs, counting or not.
func (v dispatcherVariant) source(n int, counters bool) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	flags := 0
	if counters {
		flags = 1
	}
	p("#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>")
	p(`char LICENSE[] SEC("license") = "GPL";`)
	if v.single {
		p("struct all { __u64 packets[65][8]; };")
		p(`struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, struct all); } stats SEC(".maps");`)
	} else {
		p("struct counters { __u64 packets[8]; };")
		p(`struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, 129); __type(key, __u32); __type(value, struct counters); } stats SEC(".maps");`)
	}
	num, flag := fmt.Sprint(n), fmt.Sprint(flags)
	proceed := func(int) string { return "4U" }
	allowed := func(int) string { return "31U" }
	counter := func(i int) string { return fmt.Sprint(i + 1) }
	shadow := func(int) string { return "0" }
	if !v.fold {
		var pr, al, co []string
		for i := 0; i < 64; i++ {
			pr, al, co = append(pr, "4"), append(al, "31"), append(co, fmt.Sprint(i+1))
		}
		p("struct cfg { __u32 num; __u32 flags; __u32 proceed[64]; __u32 allowed[64]; __u32 counter[64]; __u32 slot_flags[64]; };")
		p("volatile const struct cfg cfg = { .num = %d, .flags = %d, .proceed = {%s}, .allowed = {%s}, .counter = {%s} };",
			n, flags, strings.Join(pr, ","), strings.Join(al, ","), strings.Join(co, ","))
		num, flag = "cfg.num", "(cfg.flags & 1)"
		proceed = func(i int) string { return fmt.Sprintf("cfg.proceed[%d]", i) }
		allowed = func(i int) string { return fmt.Sprintf("cfg.allowed[%d]", i) }
		counter = func(i int) string { return fmt.Sprintf("cfg.counter[%d]", i) }
		shadow = func(i int) string { return fmt.Sprintf("(cfg.slot_flags[%d] & 1)", i) }
	}
	for i := 0; i < 64; i++ {
		if i < n {
			// The no-op as linking splices it: r0 = XDP_PASS; exit. The
			// empty asm keeps ctx an argument, as for a real program.
			p(`__attribute__((noinline)) int slot%d(struct xdp_md *ctx) { int r = XDP_PASS; asm volatile("" :: "r"(ctx)); asm volatile("" : "+r"(r)); return r; }`, i)
		} else {
			p(`__attribute__((noinline)) int slot%d(struct xdp_md *ctx) { volatile int r = 31; if (!ctx) return XDP_ABORTED; bpf_xdp_adjust_tail(ctx, 0); return r; }`, i)
		}
	}
	if v.single {
		p("static __always_inline void count(struct all *a, __u32 index, __u32 column) {")
		p("\tif (!(%s)) return;\n\tasm volatile(\"\" : \"+r\"(column));\n\tcolumn &= 7;\n\tif (index > 64) return;\n\tif (a) a->packets[index][column]++;\n}", flag)
	} else {
		p("static __always_inline void count(void *unused, __u32 index, __u32 column) {")
		p("\tstruct counters *c; __u32 key = index;\n\tif (!(%s)) return;\n\tasm volatile(\"\" : \"+r\"(column));\n\tcolumn &= 7;\n\tc = bpf_map_lookup_elem(&stats, &key);\n\tif (c) c->packets[column]++;\n}", flag)
	}
	p("SEC(\"xdp\") int root(struct xdp_md *ctx) {\n\t__u32 ret, column; void *a = 0;")
	if v.single {
		p("\t__u32 zero = 0; if (%s) a = bpf_map_lookup_elem(&stats, &zero);", flag)
	}
	for i := 0; i < 64; i++ {
		p("\tif (%d >= %s) goto fallthrough;\n\tret = slot%d(ctx);\n\tif (ret != 31) {", i, num, i)
		p("\t\tcolumn = ret;\n\t\tif (ret > XDP_REDIRECT) { column = 5; ret = XDP_ABORTED; }")
		p("\t\telse if (!((1U << ret) & %s)) { column = 6; ret = XDP_ABORTED; }", allowed(i))
		p("\t\tcount(a, %s, column);\n\t\tif (!%s && !((1U << ret) & %s)) return ret;\n\t}", counter(i), shadow(i), proceed(i))
	}
	p("fallthrough:\n\tcount(a, 0, XDP_PASS);\n\treturn XDP_PASS;\n}")
	return b.String()
}

// BenchmarkDispatcherVariants measures models of the dispatcher's root
// against the monolithic programs, to size the changes proposed in
// docs/benchmarks.md ("Experiments"): "cur" is today's glue, "fold" the
// configuration as constants, "1" one counter lookup per packet. It
// compiles the models with clang and skips without it.
//
//	go test -run '^$' -bench DispatcherVariants -benchtime 1x ./internal/bench
func BenchmarkDispatcherVariants(b *testing.B) {
	testutil.RequireRoot(b)
	clang, err := exec.LookPath("clang")
	if err != nil {
		b.Skip("needs clang to compile the dispatcher models")
	}
	_, file, _, _ := runtime.Caller(0)
	include := filepath.Join(filepath.Dir(file), "..", "..", "bpf", "include")
	dir := b.TempDir()

	ns, err := newBenchNS()
	if err != nil {
		b.Fatal(err)
	}
	defer ns.Close()
	type entry struct {
		name string
		sub  *subject
	}
	var entries []entry
	defer func() {
		for _, e := range entries {
			e.sub.Close()
		}
	}()
	counts := []int{1, 4, 16, 64}
	for _, n := range counts {
		s, err := monolithicSubject(ns, ProgramNoop, n, false)
		if err != nil {
			b.Fatal(err)
		}
		entries = append(entries, entry{fmt.Sprintf("monolithic/%d", n), s})
		for _, v := range []dispatcherVariant{{}, {single: true}, {fold: true}, {fold: true, single: true}} {
			for _, counters := range []bool{false, true} {
				name := fmt.Sprintf("%s-%s/%d", v, countersOf(counters), n)
				src := filepath.Join(dir, strings.NewReplacer("/", "_", "-", "_").Replace(name)+".c")
				if err := os.WriteFile(src, []byte(v.source(n, counters)), 0o644); err != nil {
					b.Fatal(err)
				}
				obj := strings.TrimSuffix(src, ".c") + ".o"
				if out, err := exec.Command(clang, "-O2", "-g", "-target", "bpf", "-I"+include, "-c", src, "-o", obj).CombinedOutput(); err != nil {
					b.Fatalf("compiling %s: %v\n%s", name, err, out)
				}
				coll, err := ebpf.LoadCollection(obj)
				if err != nil {
					b.Fatalf("loading %s: %v", name, err)
				}
				s := &subject{prog: coll.Programs["root"]}
				s.closers = append(s.closers, closerFunc(func() error { coll.Close(); return nil }))
				entries = append(entries, entry{name, s})
				if err := attachXDP(ns, s, s.prog); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	pkt := udpPacket()
	results := make([][]float64, len(entries))
	for b.Loop() {
		for round := 0; round < DefaultRounds; round++ {
			for k := range entries {
				i := (k + round) % len(entries)
				sample, err := measure(entries[i].sub.prog, pkt, DefaultRepeat, xdpPass)
				if err != nil {
					b.Fatalf("%s: %v", entries[i].name, err)
				}
				results[i] = append(results[i], sample.NsPerPacket)
			}
		}
	}
	var mono float64
	for i, e := range entries {
		m := Median(results[i])
		if strings.HasPrefix(e.name, "monolithic/") {
			mono = m
		}
		b.ReportMetric(m, "ns/pkt/"+e.name)
		if !strings.HasPrefix(e.name, "monolithic/") {
			b.ReportMetric(m/mono, "x-monolithic/"+e.name)
		}
	}
}
