// Package controlpb is the generated code of the daemon's control API
// (control.proto). Use the daemon package's Client rather than this.
package controlpb
