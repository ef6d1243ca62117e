// Package mechtest runs a test once per slot mechanism of the dispatcher
// (inline, linked and freplace: Mechanisms), for the test suites of the
// dispatcher and of the commands that drive it. freplace subtests skip,
// with the kernel's reason, where the kernel refuses BPF trampolines, and
// fail instead where vmtest.RequireFreplace says freplace must work (the
// harness VMs).
package mechtest
