package dispatcher

// UseReferenceRoot makes the roots opened with o build their generations on
// the C root of bpf/dispatcher.c instead of the emitted one, for
// differential tests; it returns o.
func UseReferenceRoot(o *Options) *Options {
	o.referenceRoot = true
	return o
}
