package agentconn_test

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/cport/cport/herd/agentconn"
	"github.com/cport/cport/herd/runner"
)

// slowProxy forwards connections on 127.0.0.1 to the agent at port,
// each after delay: an agent slow to handshake. It returns its port.
func slowProxy(t *testing.T, port string, delay time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				time.Sleep(delay)
				up, err := net.Dial("tcp", "127.0.0.1:"+port)
				if err != nil {
					return
				}
				defer up.Close()
				go func() { io.Copy(up, c); up.(*net.TCPConn).CloseWrite() }()
				io.Copy(c, up)
			}()
		}
	}()
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	return p
}

// Hosts waiting for a handshake slot behind slow ones do not time out:
// the wait for the slot is not connection time. Here each handshake
// takes 200 ms, one at a time, and the connect timeout is 1 s: the
// sixth host's turn comes after the timeout would have ended, had the
// wait counted.
func TestHandshakeSlotWaitIsNotConnectTime(t *testing.T) {
	lb := newLab(t)
	host := "127.0.0.1:" + slowProxy(t, lb.port, 200*time.Millisecond)
	c, err := agentconn.New(agentconn.Config{Loop: lb.l, TLS: lb.clientTLS(t, lb.dir, "ops"), MaxHandshakes: 1})
	if err != nil {
		t.Fatal(err)
	}
	hosts := make([]string, 6)
	for i := range hosts {
		hosts[i] = host
	}
	r := runner.New(c, nil, runner.Config{Fanout: len(hosts), ConnectTimeout: time.Second, Retries: -1})
	results, err := r.Run(lb.l, hosts, "true")
	if err != nil {
		t.Fatal(err)
	}
	for i, res := range results {
		if res.Class != runner.OK {
			t.Errorf("host %d of %d: %v: %v; want ok", i+1, len(hosts), res.Class, res.Err)
		}
	}
}
