// Package rawmap holds map operations on raw key and value bytes, shared by
// the plugin SDK (direct access to pinned maps) and the host (the Maps service
// it serves to unprivileged plugins over the broker).
package rawmap
