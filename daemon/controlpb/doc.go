// Package controlpb is the generated code of the daemon's control API
// (control.proto). Go programs use package client (client.Dial, Remote),
// which translates through package api, rather than this.
package controlpb
