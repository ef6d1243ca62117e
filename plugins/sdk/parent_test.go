package sdk

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestWatchParent(t *testing.T) {
	var ppid atomic.Int64
	ppid.Store(100)
	exited := make(chan struct{})
	go watchParent(100, func() int { return int(ppid.Load()) }, time.Millisecond, func() { close(exited) })

	select {
	case <-exited:
		t.Fatal("exited while the parent was alive")
	case <-time.After(50 * time.Millisecond):
	}
	ppid.Store(1) // re-parented to init
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatal("did not exit after the parent died")
	}
}
