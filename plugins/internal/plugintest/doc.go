// Package plugintest is the shared prelude of the example plugins' tests
// (plugins/blocklist, plugins/ratelimit, plugins/host): the UDP frames the
// tests run through a program with BPF_PROG_TEST_RUN, a plugin configured
// from JSON settings as the daemon would, and the check that Validate
// refuses what Configure would while applying nothing. Loading a plugin's
// objects standalone is sdktest.LoadObjects.
package plugintest
