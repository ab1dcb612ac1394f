// Package loopback runs the small servers tests put on loopback addresses, and stops them with the
// test.
package loopback

import (
	"net"
	"sync"
	"testing"
)

// Serve accepts connections on ln until the test ends, handling each in its own goroutine. When
// the test ends it closes ln and waits for every handler to return, so no goroutine outlives it.
func Serve(t testing.TB, ln net.Listener, handle func(net.Conn)) {
	t.Helper()
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				handle(conn)
			}()
		}
	}()
}
