package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cport/cport/loop"
	"github.com/cport/cport/transport"
)

// idleBaseline is how many connections exchange messages before the
// server's memory is first read: the server's fixed costs (its buffer
// pools, its parked workers, the runtime's first heap arenas) are then in
// the baseline, and what the idle connections add afterwards is theirs
// alone.
const idleBaseline = 50

// idleRun is one measurement of what idle connections cost a server.
type idleRun struct {
	what      string // what each connection did before idling, for the report
	addr      string
	n         int
	serverPID int
	// warm exercises the server before its memory is first read.
	warm func() error
	// once makes the protocol of one measured connection, on the group's
	// loop number li: it does one
	// exchange, sends its outcome on done, then holds the connection.
	once func(li int, done chan<- error) transport.Protocol
	// mem reads the server's memory; nil reads serverPID's.
	mem func() (procMem, error)
	// release, if set, is called once every measured connection is open;
	// the connections' exchanges start then, not as each opens.
	release func() error
	// opening, if set, is called just before the measured connections
	// open, after the first memory reading.
	opening func()
}

// measureIdle measures what r's idle connections cost the server and
// reports it per connection, as RSS and, where readable, Pss.
func measureIdle(g *loop.Group, r idleRun, stdout io.Writer) error {
	if r.serverPID <= 0 {
		return errors.New("--idle needs --server-pid to read the server's memory")
	}
	m0, m1, err := idleCost(g, r)
	if err != nil {
		return err
	}
	rss := float64(m1.rss-m0.rss) / float64(r.n)
	fmt.Fprintf(stdout, "idle: %d connections %s and held; server RSS %d → %d KiB: %.0f bytes per connection\n",
		r.n, r.what, m0.rss>>10, m1.rss>>10, rss)
	result := fmt.Sprintf("RESULT rss_bytes_per_conn=%.0f", rss)
	if m0.pss > 0 && m1.pss > 0 {
		pss := float64(m1.pss-m0.pss) / float64(r.n)
		fmt.Fprintf(stdout, "server Pss %d → %d KiB: %.0f bytes per connection\n", m0.pss>>10, m1.pss>>10, pss)
		result += fmt.Sprintf(" pss_bytes_per_conn=%.0f", pss)
	}
	fmt.Fprintln(stdout, result)
	return nil
}

// idleCost warms the server, reads its memory, opens r.n connections that
// each do one exchange and then stay open, and reads the memory again.
// The connections stay open until the group closes.
func idleCost(g *loop.Group, r idleRun) (before, after procMem, err error) {
	mem := r.mem
	if mem == nil {
		mem = func() (procMem, error) { return serverMem(r.serverPID) }
	}
	if r.warm != nil {
		if err := r.warm(); err != nil {
			return before, after, fmt.Errorf("warming the server: %w", err)
		}
	}
	time.Sleep(200 * time.Millisecond)
	if before, err = mem(); err != nil {
		return before, after, err
	}
	if r.opening != nil {
		r.opening()
	}
	done := make(chan error, r.n)
	err = dialAll(g, r.addr, r.n, func(li int) transport.Protocol { return r.once(li, done) })
	if err != nil {
		return before, after, fmt.Errorf("opening idle connections: %w", err)
	}
	if r.release != nil {
		if err := r.release(); err != nil {
			return before, after, err
		}
	}
	timeout := time.After(30 * time.Second)
	for i := 0; i < r.n; i++ {
		select {
		case err := <-done:
			if err != nil {
				return before, after, fmt.Errorf("idle connection %d: %w", i, err)
			}
		case <-timeout:
			return before, after, fmt.Errorf("only %d of %d idle connections answered", i, r.n)
		}
	}
	after, err = settled(mem)
	return before, after, err
}

// settled reads the server's memory once it has settled after the
// echoes, as bench/loadgen does: a server may give back what a burst took
// a moment after it, when it next finds itself idle (cport's backends
// trim their buffer pools at most once a second), and what it holds then
// is what an idle connection costs. It waits at least 500 ms, then until
// the RSS has not fallen for a second, at most 5 s.
func settled(mem func() (procMem, error)) (procMem, error) {
	time.Sleep(500 * time.Millisecond)
	m, err := mem()
	if err != nil {
		return m, err
	}
	steady := 0
	for deadline := time.Now().Add(5 * time.Second); steady < 4 && time.Now().Before(deadline); {
		time.Sleep(250 * time.Millisecond)
		next, err := mem()
		if err != nil {
			return m, err
		}
		if next.rss < m.rss {
			steady = 0
		} else {
			steady++
		}
		m = next
	}
	return m, nil
}
