// Package host is the daemon's side of xdpchain plugins: it starts a plugin
// binary (checksum, optional user, go-plugin handshake over gRPC with
// AutoMTLS, start timeout), asks it to describe itself, turns the description
// into a dispatcher.Program, configures it with its settings and its maps'
// pin paths, serves it the Maps and Host services over go-plugin's broker,
// checks its health, detects its exit, and hands the daemon the plugin's
// requests (replace my program, change my settings). Everything the process
// logs (the SDK's records, other stderr and stdout lines, go-plugin's own
// messages) goes to Options.Logger at its level.
//
// Typical use:
//
//	p, err := host.Start(ctx, host.Options{Name: "blocklist", Command: "/usr/libexec/xdpchain-blocklist", Settings: settings})
//	prog := p.Program()                   // add to the chain with dispatcher's Root.Update
//	maps, _ := root.ProgramMaps(prog.Name) // map name -> pin path
//	err = p.Configure(ctx, maps)
//	for { select { case r := <-p.Requests(): ...; case <-p.Exited(): ... } }
//
// Call CleanupAll when the daemon exits: it kills every plugin process still
// running.
package host
