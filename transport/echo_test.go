package transport

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"path/filepath"
	"sync"
	"testing"

	"github.com/cport/cport/loop"
)

// randomSize draws from 1 B to 256 KiB, log-uniformly, so small and large
// messages are both common.
func randomSize(r *rand.Rand) int {
	bits := r.IntN(18) + 1 // 2^1 .. 2^18
	return 1 + r.IntN(1<<bits)
}

// echoRoundTrip sends payload on c, reads the same number of bytes back
// (concurrently, so neither side's buffers deadlock) and compares checksums.
func echoRoundTrip(c net.Conn, payload []byte) error {
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(payload)
		errc <- err
	}()
	got := make([]byte, len(payload))
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("read %d bytes: %w", len(payload), err)
	}
	if err := <-errc; err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if sha256.Sum256(got) != sha256.Sum256(payload) {
		return fmt.Errorf("%d bytes came back different", len(payload))
	}
	return nil
}

// 2,000 concurrent connections each echo a message of random size (1 B to
// 256 KiB) through a two-loop server; every byte must come back in order.
func TestEchoManyConnectionsRandomSizes(t *testing.T) {
	conns := 2000
	if testing.Short() {
		conns = 200
	}
	g := startGroup(t, 2, loop.Config{})
	ln := listenEcho(t, g, "tcp", "127.0.0.1:0")
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	sem := make(chan struct{}, 500) // bound the client side's concurrent dials
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			r := rand.New(rand.NewPCG(seed, 7))
			payload := make([]byte, randomSize(r))
			for j := range payload {
				payload[j] = byte(r.Uint32())
			}
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			if err := echoRoundTrip(c, payload); err != nil {
				errs <- fmt.Errorf("conn %d: %w", seed, err)
			}
		}(uint64(i))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// Several messages on one connection, with sizes that straddle the
// provided-buffer size, come back whole and in order.
func TestEchoSequentialMessagesOneConnection(t *testing.T) {
	g := startGroup(t, 1, loop.Config{})
	ln := listenEcho(t, g, "tcp", "127.0.0.1:0")
	c := dialNet(t, "tcp", ln.Addr().String())
	defer c.Close()
	for _, size := range []int{1, 64, 4095, 4096, 16 << 10, 16<<10 + 1, 64 << 10, 1 << 20} {
		payload := bytes.Repeat([]byte{byte(size)}, size)
		if err := echoRoundTrip(c, payload); err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
	}
}

func TestEchoUnixSocket(t *testing.T) {
	skipWithoutUnixSockets(t)
	g := startGroup(t, 2, loop.Config{})
	path := filepath.Join(t.TempDir(), "echo.sock")
	ln := listenEcho(t, g, "unix", path)
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := net.Dial("unix", path)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			if err := echoRoundTrip(c, bytes.Repeat([]byte{byte(i)}, 1000*i+1)); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	if got := ln.Addr().String(); got != path {
		t.Errorf("Addr = %q, want %q", got, path)
	}
}

// The server's connections are spread over every loop of the group.
func TestListenSpreadsOverLoops(t *testing.T) {
	for _, bal := range []Balance{ReusePort, Handoff} {
		t.Run(fmt.Sprint("balance=", bal), func(t *testing.T) {
			g := startGroup(t, 2, loop.Config{})
			var mu sync.Mutex
			seen := map[*loop.Loop]int{}
			made := make(chan struct{}, 64)
			lc := ListenConfig{Balance: bal}
			ln, err := lc.Listen(g, "tcp", "127.0.0.1:0", func() Protocol {
				return &loopRecorder{mu: &mu, seen: seen, made: made}
			})
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			var conns []net.Conn
			for i := 0; i < 64; i++ {
				conns = append(conns, dialNet(t, "tcp", ln.Addr().String()))
				<-made
			}
			for _, c := range conns {
				c.Close()
			}
			mu.Lock()
			defer mu.Unlock()
			if len(seen) != 2 {
				t.Errorf("connections landed on %d loops, want 2 (%v)", len(seen), seen)
			}
		})
	}
}

type loopRecorder struct {
	BaseProtocol
	mu   *sync.Mutex
	seen map[*loop.Loop]int
	made chan struct{}
}

func (r *loopRecorder) ConnectionMade(t Transport) {
	r.mu.Lock()
	r.seen[t.Loop()]++
	r.mu.Unlock()
	r.made <- struct{}{}
}
