package testprogs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/cilium/ebpf"
)

// Names of the test objects.
const (
	VerdictAborted  = "verdict_aborted"
	VerdictDrop     = "verdict_drop"
	VerdictPass     = "verdict_pass"
	VerdictTx       = "verdict_tx"
	VerdictRedirect = "verdict_redirect"
	VerdictInvalid  = "verdict_invalid"

	Noop      = "noop"
	Costly    = "costly"
	Counter   = "counter"
	DropPort  = "dropport"
	Adjust    = "adjust"
	Bad       = "bad"
	Multi     = "multi"
	RunConfig = "runconfig"

	Monolithic1        = "monolithic1"
	Monolithic4        = "monolithic4"
	Monolithic16       = "monolithic16"
	Monolithic64       = "monolithic64"
	Monolithic10       = "monolithic10"
	MonolithicInline1  = "monolithic_inline1"
	MonolithicInline4  = "monolithic_inline4"
	MonolithicInline16 = "monolithic_inline16"
	MonolithicInline10 = "monolithic_inline10"
	MonolithicInline64 = "monolithic_inline64"

	UDP         = "udp"
	TailCall    = "tailcall"
	TailCallUDP = "tailcall_udp"

	// Reflect sends every frame back (XDP_TX) and counts them in its
	// per-CPU map ReflectCount; it drops them while ReflectStop[0] != 0.
	Reflect      = "reflect"
	ReflectCount = "reflected"
	ReflectStop  = "stop"
)

// Facts about the objects that tests assert against.
const (
	// InvalidVerdict is what verdict_invalid returns.
	InvalidVerdict = 7
	// DropPortDefault is the UDP destination port dropport drops.
	DropPortDefault = 9999
	// DropPortPriority is dropport's XDP_RUN_CONFIG priority (proceed-on: pass).
	DropPortPriority = 10
	// RunConfigPriority is runconfig's XDP_RUN_CONFIG priority
	// (proceed-on: pass and drop).
	RunConfigPriority = 20
	// DefaultPriority is libxdp's priority for a program without metadata.
	DefaultPriority = 50
	// UDPDropPort is the UDP destination port udp (and the udp bodies of
	// monolithic_udp* and tailcall_udp) drops; it passes everything else.
	UDPDropPort = 4789
	// TailCallLinks is how many programs of tailcall and tailcall_udp
	// tail-call (TailCallProgram(0..33)), each with its index + 1 as a
	// literal key; TailCallLast is their program that ends a chain (the
	// body, then XDP_PASS); TailCallMap is their BPF_MAP_TYPE_PROG_ARRAY
	// (64 entries).
	TailCallLinks = 34
	TailCallLast  = "tc_last"
	TailCallMap   = "chain_map"
)

type object struct {
	bytes   []byte
	program string // the XDP function to load
}

var objects = map[string]object{
	VerdictAborted:  {_VerdictAbortedBytes, "xdp_verdict"},
	VerdictDrop:     {_VerdictDropBytes, "xdp_verdict"},
	VerdictPass:     {_VerdictPassBytes, "xdp_verdict"},
	VerdictTx:       {_VerdictTxBytes, "xdp_verdict"},
	VerdictRedirect: {_VerdictRedirectBytes, "xdp_verdict"},
	VerdictInvalid:  {_VerdictInvalidBytes, "xdp_verdict"},

	Noop:      {_NoopBytes, "noop"},
	Costly:    {_CostlyBytes, "costly"},
	Counter:   {_CounterBytes, "counter"},
	DropPort:  {_DropportBytes, "dropport"},
	Adjust:    {_AdjustBytes, "adjust"},
	Bad:       {_BadBytes, "bad"},
	Multi:     {_MultiBytes, "first"},
	RunConfig: {_RunconfigBytes, "runconfig"},

	Monolithic1:        {_Monolithic1Bytes, "monolithic"},
	Monolithic4:        {_Monolithic4Bytes, "monolithic"},
	Monolithic16:       {_Monolithic16Bytes, "monolithic"},
	Monolithic64:       {_Monolithic64Bytes, "monolithic"},
	Monolithic10:       {_Monolithic10Bytes, "monolithic"},
	MonolithicInline1:  {_MonolithicInline1Bytes, "monolithic"},
	MonolithicInline4:  {_MonolithicInline4Bytes, "monolithic"},
	MonolithicInline16: {_MonolithicInline16Bytes, "monolithic"},
	MonolithicInline10: {_MonolithicInline10Bytes, "monolithic"},
	MonolithicInline64: {_MonolithicInline64Bytes, "monolithic"},

	"monolithic_udp1":         {_MonolithicUdp1Bytes, "monolithic"},
	"monolithic_udp4":         {_MonolithicUdp4Bytes, "monolithic"},
	"monolithic_udp10":        {_MonolithicUdp10Bytes, "monolithic"},
	"monolithic_udp16":        {_MonolithicUdp16Bytes, "monolithic"},
	"monolithic_udp64":        {_MonolithicUdp64Bytes, "monolithic"},
	"monolithic_udp_inline1":  {_MonolithicUdpInline1Bytes, "monolithic"},
	"monolithic_udp_inline4":  {_MonolithicUdpInline4Bytes, "monolithic"},
	"monolithic_udp_inline10": {_MonolithicUdpInline10Bytes, "monolithic"},
	"monolithic_udp_inline16": {_MonolithicUdpInline16Bytes, "monolithic"},
	"monolithic_udp_inline64": {_MonolithicUdpInline64Bytes, "monolithic"},

	"monolithic_inline_tx1":      {_MonolithicInlineTx1Bytes, "monolithic"},
	"monolithic_inline_tx4":      {_MonolithicInlineTx4Bytes, "monolithic"},
	"monolithic_inline_tx10":     {_MonolithicInlineTx10Bytes, "monolithic"},
	"monolithic_inline_tx16":     {_MonolithicInlineTx16Bytes, "monolithic"},
	"monolithic_inline_tx63":     {_MonolithicInlineTx63Bytes, "monolithic"},
	"monolithic_udp_inline_tx1":  {_MonolithicUdpInlineTx1Bytes, "monolithic"},
	"monolithic_udp_inline_tx4":  {_MonolithicUdpInlineTx4Bytes, "monolithic"},
	"monolithic_udp_inline_tx10": {_MonolithicUdpInlineTx10Bytes, "monolithic"},
	"monolithic_udp_inline_tx16": {_MonolithicUdpInlineTx16Bytes, "monolithic"},
	"monolithic_udp_inline_tx63": {_MonolithicUdpInlineTx63Bytes, "monolithic"},

	UDP:         {_UdpBytes, "udp"},
	Reflect:     {_ReflectBytes, "reflect"},
	TailCall:    {_TailcallBytes, "tc00"},
	TailCallUDP: {_TailcallUdpBytes, "tc00"},
}

func lookup(name string) object {
	o, ok := objects[name]
	if !ok {
		panic(fmt.Sprintf("testprogs: no object %q", name))
	}
	return o
}

// Names returns the names of all test objects, sorted.
func Names() []string {
	names := make([]string, 0, len(objects))
	for name := range objects {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Object returns a copy of the ELF bytes of the named object. It panics if
// there is no such object.
func Object(name string) []byte {
	return bytes.Clone(lookup(name).bytes)
}

// Program returns the name of the XDP function to load from the named
// object (for multi, the first of its two: "first"; the other is "second").
// It panics if there is no such object.
func Program(name string) string {
	return lookup(name).program
}

// Spec parses the named object into a CollectionSpec.
func Spec(name string) (*ebpf.CollectionSpec, error) {
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(lookup(name).bytes))
	if err != nil {
		return nil, fmt.Errorf("parsing test object %s: %w", name, err)
	}
	return spec, nil
}

// WriteFile writes the named object to dir as NAME.o and returns its path,
// for tests that hand an object file to the CLI.
func WriteFile(dir, name string) (string, error) {
	path := filepath.Join(dir, name+".o")
	if err := os.WriteFile(path, lookup(name).bytes, 0o644); err != nil {
		return "", fmt.Errorf("writing test object %s: %w", name, err)
	}
	return path, nil
}

// Verdict returns the name of the verdict_* object that returns v
// (0 aborted .. 4 redirect, or InvalidVerdict). It panics for any other v.
func Verdict(v uint32) string {
	switch v {
	case 0:
		return VerdictAborted
	case 1:
		return VerdictDrop
	case 2:
		return VerdictPass
	case 3:
		return VerdictTx
	case 4:
		return VerdictRedirect
	case InvalidVerdict:
		return VerdictInvalid
	}
	panic(fmt.Sprintf("testprogs: no verdict object returns %d", v))
}

// Monolithic returns the name of the monolithic object running n no-op
// functions (n = 1, 4, 10, 16 or 64), inlined or as subprogram calls. It
// panics for any other n.
func Monolithic(n int, inline bool) string { return MonolithicOf(Noop, n, inline) }

// MonolithicOf returns the name of the monolithic object running n bodies
// of the program body (Noop or UDP; n = 1, 4, 10, 16 or 64), inlined back
// to back or as subprogram calls. It panics for anything else.
func MonolithicOf(body string, n int, inline bool) string {
	return monolithicName(body, n, inline, false)
}

// monolithicName names (and checks) the monolithic object of n bodies of
// body, inlined or not, ending with the final XDP_TX program (tx) or not.
func monolithicName(body string, n int, inline, tx bool) string {
	name := "monolithic"
	switch body {
	case Noop:
	case UDP:
		name += "_udp"
	default:
		panic(fmt.Sprintf("testprogs: no monolithic object of %q", body))
	}
	if inline {
		name += "_inline"
	}
	if tx {
		name += "_tx"
	}
	name += fmt.Sprint(n)
	lookup(name)
	return name
}

// MonolithicTXCounts are the numbers of bodies the monolithic objects
// ending in the final XDP_TX program (MonolithicTX) exist for: the real
// packet path's chains of N programs before the final one.
var MonolithicTXCounts = []int{1, 4, 10, 16, 63}

// MonolithicTX returns the name of the monolithic object that runs n
// bodies of the program body (Noop or UDP; n in MonolithicTXCounts)
// inlined back to back, then the final program of the real packet path:
// verdict_tx's body, which returns XDP_TX. It panics for anything else.
func MonolithicTX(body string, n int) string {
	return monolithicName(body, n, true, true)
}

// TailCallOf returns the name of the tail-call chain object running the
// program body (Noop or UDP). It panics for anything else.
func TailCallOf(body string) string {
	switch body {
	case Noop:
		return TailCall
	case UDP:
		return TailCallUDP
	}
	panic(fmt.Sprintf("testprogs: no tail-call object of %q", body))
}

// TailCallProgram returns the name of program i (0..TailCallLinks-1) of
// tailcall and tailcall_udp: it tail-calls index i+1. It panics for any
// other i.
func TailCallProgram(i int) string {
	if i < 0 || i >= TailCallLinks {
		panic(fmt.Sprintf("testprogs: no tail-call link %d", i))
	}
	return fmt.Sprintf("tc%02d", i)
}
