package agent_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cport/cport/herd/agent"
	"github.com/cport/cport/herd/ca"
	"github.com/cport/cport/loop"
)

// fixture is an agent on 127.0.0.1 with a CA and a controller certificate.
type fixture struct {
	dir  string
	addr string
	log  *syncBuffer
}

// syncBuffer is a log the agent's loops and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitLog waits for the agent to log a line holding want.
func (fx *fixture) waitLog(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(fx.log.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the agent logged no line with %q; its log:\n%s", want, fx.log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func startAgent(t *testing.T, cfg agent.Config) *fixture {
	t.Helper()
	dir := t.TempDir()
	if err := ca.Init(dir, "test CA", 0); err != nil {
		t.Fatal(err)
	}
	auth, err := ca.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	issue(t, auth, dir, ca.Request{Role: ca.Agent, Name: "127.0.0.1"}, "agent")
	issue(t, auth, dir, ca.Request{Role: ca.Controller, Name: "ops"}, "ops")
	fx := &fixture{dir: dir, log: &syncBuffer{}}
	cfg.TLS, err = agent.ServerTLS(filepath.Join(dir, ca.CACertFile), filepath.Join(dir, "agent.crt"), filepath.Join(dir, "agent.key"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(fx.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := agent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	g, err := loop.NewGroup(1, loop.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := srv.Listen(context.Background(), g, "127.0.0.1:0")
	if err != nil {
		g.Close()
		t.Fatal(err)
	}
	fx.addr = ln.Addr().String()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ln.Close()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		srv.Close(5 * time.Second)
		g.Close()
	})
	return fx
}

func issue(t *testing.T, auth *ca.Authority, dir string, req ca.Request, file string) {
	t.Helper()
	is, err := auth.Issue(req)
	if err != nil {
		t.Fatal(err)
	}
	if err := is.Write(dir, file); err != nil {
		t.Fatal(err)
	}
}

// client is a plain crypto/tls controller, to test the agent on its own.
type client struct {
	t    *testing.T
	conn *tls.Conn
	br   *bufio.Reader
	next int
}

func (fx *fixture) dial(t *testing.T) *client {
	t.Helper()
	pool, err := ca.Pool(filepath.Join(fx.dir, ca.CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(fx.dir, "ops.crt"), filepath.Join(fx.dir, "ops.key"))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", fx.addr,
		&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second)) // no test waits longer
	t.Cleanup(func() { conn.Close() })
	return &client{t: t, conn: conn, br: bufio.NewReader(conn)}
}

// send sends a request and returns its id.
func (c *client) send(method string, params any) int {
	c.t.Helper()
	c.next++
	b, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "method": method, "params": params, "id": c.next})
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.conn.Write(append(b, '\n')); err != nil {
		c.t.Fatal(err)
	}
	return c.next
}

// msg is a message from the agent.
type msg struct {
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	ID     *int            `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func (c *client) read() msg {
	c.t.Helper()
	line, err := c.br.ReadBytes('\n')
	if err != nil {
		c.t.Fatalf("reading from the agent: %v", err)
	}
	var m msg
	if err := json.Unmarshal(line, &m); err != nil {
		c.t.Fatalf("bad message %q: %v", line, err)
	}
	return m
}

// output reads messages until the reply to id, gathering job's output;
// onOutput sees each chunk of stdout as it comes.
func (c *client) output(id int, onOutput func(string)) (stdout, stderr string, res agent.RunResult, m msg) {
	c.t.Helper()
	for {
		m = c.read()
		if m.Method == agent.NotifyOutput {
			var o agent.OutputParams
			if err := json.Unmarshal(m.Params, &o); err != nil {
				c.t.Fatal(err)
			}
			if o.Stream == agent.Stdout {
				stdout += string(o.Data)
				if onOutput != nil {
					onOutput(stdout)
				}
			} else {
				stderr += string(o.Data)
			}
			continue
		}
		if m.ID != nil && *m.ID == id {
			if m.Error == nil {
				if err := json.Unmarshal(m.Result, &res); err != nil {
					c.t.Fatal(err)
				}
			}
			return
		}
	}
}

// processGone reports whether pid has ended: no longer in /proc, or a
// zombie waiting for a parent that is not the agent.
func processGone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X')
}

func waitGone(t *testing.T, pid int, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !processGone(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: process %d still alive", what, pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// tryInfo connects as the controller and calls MethodInfo, within 10 s.
func (fx *fixture) tryInfo() error {
	pool, err := ca.Pool(filepath.Join(fx.dir, ca.CACertFile))
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(fx.dir, "ops.crt"), filepath.Join(fx.dir, "ops.key"))
	if err != nil {
		return err
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", fx.addr,
		&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, ServerName: "127.0.0.1"})
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte(`{"jsonrpc":"2.0","method":"agent.info","id":1}` + "\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.Contains(line, `"protocol":`) {
		return fmt.Errorf("info reply %q", line)
	}
	return nil
}
