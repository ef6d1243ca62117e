// Package plugintest is the shared prelude of the example plugins' tests:
// it loads a plugin's BPF objects as a plain XDP program with maps of its
// own (no dispatcher, no bpffs), hands the plugin those maps as sdk.Maps,
// and builds the UDP frames the tests run through the program with
// BPF_PROG_TEST_RUN.
package plugintest
