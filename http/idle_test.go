package http_test

import (
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	cphttp "github.com/cport/cport/http"
)

// TestIdleConnectionHeapCost measures what a keep-alive connection that
// has served one request keeps while it waits for the next: no flow, no
// read buffer, only its transport and request/response objects.
func TestIdleConnectionHeapCost(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 1,000 connections")
	}
	const n = 1000
	_, addr := startServer(t, hello, cphttp.Limits{})
	req := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	oneRequest := func(c net.Conn) {
		c.Write(req)
		buf := make([]byte, 512)
		c.SetReadDeadline(time.Now().Add(hangGuard))
		k, err := c.Read(buf)
		if err != nil && err != io.EOF || k == 0 {
			t.Errorf("read: %v", err)
		}
	}
	warm, _ := rawConn(t, addr)
	oneRequest(warm)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	conns := make([]net.Conn, n)
	var wg sync.WaitGroup
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c
		wg.Add(1)
		go func() {
			defer wg.Done()
			oneRequest(c)
		}()
	}
	wg.Wait()
	time.Sleep(50 * time.Millisecond)
	runtime.GC()
	runtime.ReadMemStats(&after)
	t.Logf("per idle keep-alive connection, both ends in this process: %d heap bytes",
		(int64(after.HeapAlloc)-int64(before.HeapAlloc))/n)
	for _, c := range conns {
		c.Close()
	}
}
