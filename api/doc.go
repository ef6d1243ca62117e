// Package api is the daemon's control API on the Go side: the values only
// the daemon reports (its Status with the plugin processes, a reload's
// ReloadResult), the errors that cross the control socket, and the one
// translation between the wire (package daemon/controlpb) and the Go
// vocabulary (packages chain and dispatcher), errors included
// (translate.go). Both ends use it: the daemon's server and package client,
// so that a Go client of the daemon imports neither the daemon nor what the
// daemon needs (plugins, Prometheus).
package api
