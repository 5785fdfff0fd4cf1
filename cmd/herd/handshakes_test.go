package main

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRunMaxHandshakes: --max-handshakes 1 sets up one connection at a
// time: the second host's connection starts only once the first one's
// handshake has ended.
func TestRunMaxHandshakes(t *testing.T) {
	lb := newLab(t, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// A server that accepts and never answers, noting for each connection
	// how many the test had closed when it arrived.
	var (
		mu     sync.Mutex
		conns  []net.Conn
		closed int
		seen   []int
	)
	accepted := make(chan struct{}, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			seen = append(seen, closed)
			mu.Unlock()
			accepted <- struct{}{}
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	closeNext := func() {
		select {
		case <-accepted:
		case <-time.After(20 * time.Second): // a guard against a hang, not a measure
			t.Error("a connection did not arrive")
			return
		}
		mu.Lock()
		defer mu.Unlock()
		conns[closed].Close()
		closed++
	}

	addr := ln.Addr().String()
	done := make(chan string, 1)
	go func() {
		_, _, errOut := lb.run(t, "--max-handshakes", "1", "-f", "2", "--retries", "0", "a@"+addr+",b@"+addr, "--", "true")
		done <- errOut
	}()
	closeNext()
	closeNext()
	select {
	case errOut := <-done:
		if strings.Count(errOut, "! unreachable: ") != 2 {
			t.Errorf("summary %q, want both hosts unreachable", errOut)
		}
	case <-time.After(20 * time.Second): // a guard against a hang, not a measure
		t.Fatal("herd did not end")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[1] == 0 {
		t.Errorf("connections arrived with %v closed before them, want the second after the first closed", seen)
	}

	if code, _, errOut := lb.run(t, "--max-handshakes", "0", lb.hosts[0], "--", "true"); code != exitUsage || !strings.Contains(errOut, "--max-handshakes must be positive") {
		t.Errorf("--max-handshakes 0: exit %d, stderr %q; want %d and a usage error", code, errOut, exitUsage)
	}
}
