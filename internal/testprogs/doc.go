// Package testprogs holds the compiled BPF test programs that xdpchain's
// tests and benchmarks load: their C sources are in the top-level testdata/
// directory, compiled by bpf2go (go generate) into the committed
// *_bpfel.o objects beside this file.
//
// Every object is known by a name (the constants below, also the stem of
// its .o file); Object returns its ELF bytes and Program the XDP function
// to load from it.
//
//	verdict_aborted, verdict_drop, verdict_pass, verdict_tx,
//	verdict_redirect  xdp_verdict returns that verdict (a .rodata constant,
//	                  "verdict")
//	verdict_invalid   xdp_verdict returns 7, outside XDP_ABORTED..XDP_REDIRECT
//	noop              noop returns XDP_PASS
//	costly            costly runs 10000 rounds of arithmetic on the packet's
//	                  first byte in a bounded loop, then returns XDP_PASS
//	counter           counter counts packets in the .bss global "packets"
//	                  (incremented by the .data global "step" = 1) and in
//	                  element 0 of the array map "hits", through a static
//	                  __noinline subprogram; returns XDP_PASS
//	dropport          dropport drops UDP (IPv4, IPv6) to the .rodata "port"
//	                  (9999) and passes the rest; libxdp metadata priority
//	                  10, proceed-on pass
//	adjust            adjust calls bpf_xdp_adjust_head/tail, leaves the
//	                  packet unchanged and returns XDP_PASS
//	bad               bad reads packet data without a bounds check: the
//	                  verifier rejects it
//	multi             two programs: first (XDP_PASS) and second (XDP_DROP)
//	runconfig         runconfig returns XDP_PASS; libxdp metadata priority
//	                  20, proceed-on pass and drop
//	udp               udp parses Ethernet/IPv4/UDP with bounds checks, drops
//	                  UDP to port 4789 (UDPDropPort), passes the rest
//	monolithicN       (N = 1, 4, 10, 16, 64) monolithic runs N no-op
//	                  functions as static __noinline subprograms with the
//	                  dispatcher's proceed-on check after each; returns
//	                  XDP_PASS
//	monolithic_inlineN  the same with the no-op bodies __always_inline
//	monolithic_udpN, monolithic_udp_inlineN  the same with udp's body
//	                  (inlined bodies apart behind compiler barriers)
//	monolithic_inline_txN, monolithic_udp_inline_txN  (N = 1, 4, 10, 16,
//	                  63) the N inlined bodies, then verdict_tx's body:
//	                  returns the .rodata "verdict" (XDP_TX) where the
//	                  others return XDP_PASS (the real packet path's
//	                  back-to-back chain)
//	tailcall, tailcall_udp  tailcall runs the no-op (udp) body and on
//	                  XDP_PASS tail-calls chain_map[next_key] (.rodata,
//	                  default 1); a failed tail call returns XDP_ABORTED;
//	                  tailcall_last runs the body alone
//	reflect           reflect sends every frame back (XDP_TX), counting it
//
// The objects of the cases beside the chain's own semantics are described
// at their names in the gen_*.go files: complex (refused as too complex),
// inline (the risky cases of inline splicing), leak (refused for
// unprivileged owners), nobtf (no BTF), tailself, untyped, untyped_one and
// deadfuncs (programs written without xdpchain in mind) and devbound (XDP
// hints kfuncs).
package testprogs
