package main

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/cport/cport/loop"
	"github.com/cport/cport/transport"
)

// burstConn is a measured connection of a burst run: it opens silently,
// and echoes once when its loop's burst sends.
type burstConn struct {
	pinger
	held *[]*burstConn // its loop's connections, touched only on that loop
}

func (b *burstConn) ConnectionMade(t transport.Transport) {
	b.t = t
	*b.held = append(*b.held, b)
}

// echoBurstRun is the burst measurement of an echo server: warmed as
// echoIdleRun warms it, then cfg.burst connections open without a byte,
// and once the server holds them all, each client loop writes a message
// on every one of its connections in one go, so their echoes reach the
// server at the same moment.
func echoBurstRun(g *loop.Group, cfg benchEchoConfig) idleRun {
	r := echoIdleRun(g, cfg)
	r.what, r.n = "echoed once all at the same moment", cfg.burst
	loops := g.Loops()
	held := make([][]*burstConn, len(loops))
	payload := make([]byte, cfg.size)
	// A burst connection stops at its first echo, before it looks at the
	// phase; it needs one all the same.
	phase := new(atomic.Int32)
	r.once = func(li int, done chan<- error) transport.Protocol {
		return &burstConn{pinger: pinger{payload: payload, phase: phase, once: true, echoed: done}, held: &held[li]}
	}
	var fds0 int
	var fdErr error
	r.opening = func() { fds0, fdErr = serverFDs(cfg.serverPID) }
	r.release = func() error {
		// The burst is simultaneous only if the server has accepted every
		// connection before the first byte: wait until it holds them all.
		if fdErr == nil {
			if err := awaitServerFDs(cfg.serverPID, fds0+cfg.burst, 30*time.Second); err != nil {
				return err
			}
		} else {
			time.Sleep(time.Second) // no descriptors to count: give it time instead
		}
		for i, l := range loops {
			l.Post(func() {
				for _, b := range held[i] {
					b.send()
				}
			})
		}
		return nil
	}
	return r
}

// awaitServerFDs waits until process pid has at least want descriptors
// open.
func awaitServerFDs(pid, want int, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		n, err := serverFDs(pid)
		if err != nil {
			return err
		}
		if n >= want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the server holds %d descriptors after %v, want %d: it has not accepted every connection", n, within, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
