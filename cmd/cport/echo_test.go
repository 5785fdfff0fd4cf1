package main

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"
)

// cport echo in both styles echoes random-sized messages byte for byte.
func TestEchoStyles(t *testing.T) {
	for _, style := range []string{"callback", "flow"} {
		t.Run(style, func(t *testing.T) {
			g, addr, stop, err := serveEcho(echoConfig{addr: "127.0.0.1:0", loops: 2, balance: "reuseport", style: style})
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			defer stop()
			var wg sync.WaitGroup
			for i := 0; i < 50; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					c, err := net.Dial("tcp", addr.String())
					if err != nil {
						t.Error(err)
						return
					}
					defer c.Close()
					c.SetDeadline(time.Now().Add(30 * time.Second))
					r := rand.New(rand.NewPCG(uint64(i), 1))
					msg := make([]byte, 1+r.IntN(200<<10))
					for j := range msg {
						msg[j] = byte(r.Uint32())
					}
					go c.Write(msg)
					got := make([]byte, len(msg))
					if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
						t.Errorf("conn %d: %d bytes back, err %v, equal %v", i, len(got), err, bytes.Equal(got, msg))
					}
				}(i)
			}
			wg.Wait()
		})
	}
}

func TestEchoRejectsBadFlags(t *testing.T) {
	for _, cfg := range []echoConfig{
		{addr: "127.0.0.1:0", balance: "sideways", style: "callback"},
		{addr: "127.0.0.1:0", balance: "reuseport", style: "telepathy"},
	} {
		if g, _, _, err := serveEcho(cfg); err == nil {
			g.Close()
			t.Errorf("serveEcho(%+v) accepted bad flags", cfg)
		}
	}
}

// --idle-timeout closes a silent connection in both styles.
func TestEchoIdleTimeout(t *testing.T) {
	for _, style := range []string{"callback", "flow"} {
		t.Run(style, func(t *testing.T) {
			addr := startEcho(t, echoConfig{loops: 1, style: style, idle: 100 * time.Millisecond})
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			if _, err := c.Read(make([]byte, 1)); err == nil {
				t.Fatal("read data from a silent echo")
			} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("the silent connection was not closed")
			}
		})
	}
}

// startEcho serves cfg (on 127.0.0.1, port chosen by the kernel, balanced
// by SO_REUSEPORT) until the test ends and returns its address.
func startEcho(t *testing.T, cfg echoConfig) string {
	t.Helper()
	cfg.addr, cfg.balance = "127.0.0.1:0", "reuseport"
	g, addr, stop, err := serveEcho(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop(); g.Close() })
	return addr.String()
}
