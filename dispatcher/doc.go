// Package dispatcher keeps a chain of XDP programs on a network interface
// behind one root dispatcher program.
package dispatcher
