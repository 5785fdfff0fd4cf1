package sshsession

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// testServer is an in-process SSH server on loopback, built on
// x/crypto/ssh with plain goroutines: a real peer speaking the real
// protocol, whose exec requests run a tiny command language:
//
//	out TEXT    write TEXT and a newline to stdout
//	err TEXT    write TEXT and a newline to stderr
//	part TEXT   write TEXT with no newline
//	exit N      exit with status N
//	hang        wait for a signal or the channel's end
//
// commands separated by ";".
type testServer struct {
	addr    string
	hostKey ssh.Signer

	mu      sync.Mutex
	signals []string // "host-sent-signal" records, for the kill tests
	ended   chan string
}

func newKey(t testing.TB) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func startServer(t testing.TB, user string, clientKey ssh.PublicKey) *testServer {
	t.Helper()
	srv := &testServer{hostKey: newKey(t), ended: make(chan string, 16)}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(c ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
			if c.User() == user && string(k.Marshal()) == string(clientKey.Marshal()) {
				return nil, nil
			}
			return nil, fmt.Errorf("key refused")
		},
	}
	cfg.AddHostKey(srv.hostKey)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	srv.addr = ln.Addr().String()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go srv.serve(c, cfg)
		}
	}()
	return srv
}

func (srv *testServer) serve(c net.Conn, cfg *ssh.ServerConfig) {
	defer c.Close()
	_, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "no")
			continue
		}
		ch, reqs, err := nc.Accept()
		if err != nil {
			return
		}
		go srv.session(ch, reqs)
	}
}

func (srv *testServer) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	signal := make(chan string, 1)
	execs := make(chan string, 1)
	go func() {
		for r := range reqs {
			switch r.Type {
			case "exec":
				n := binary.BigEndian.Uint32(r.Payload)
				execs <- string(r.Payload[4 : 4+n])
				r.Reply(true, nil)
			case "signal":
				n := binary.BigEndian.Uint32(r.Payload)
				select {
				case signal <- string(r.Payload[4 : 4+n]):
				default:
				}
			default:
				r.Reply(false, nil)
			}
		}
		close(signal)
	}()
	cmd := <-execs
	status := 0
	for _, part := range strings.Split(cmd, ";") {
		verb, arg, _ := strings.Cut(strings.TrimSpace(part), " ")
		switch verb {
		case "out":
			fmt.Fprintln(ch, arg)
		case "err":
			fmt.Fprintln(ch.Stderr(), arg)
		case "part":
			fmt.Fprint(ch, arg)
		case "exit":
			status, _ = strconv.Atoi(arg)
		case "hang":
			sig, ok := <-signal
			if !ok {
				sig = "hangup"
			}
			srv.mu.Lock()
			srv.signals = append(srv.signals, sig)
			srv.mu.Unlock()
			srv.ended <- sig
			return
		}
	}
	ch.SendRequest("exit-status", false, binary.BigEndian.AppendUint32(nil, uint32(status)))
}

// knownHostsFile writes a known_hosts file naming each addr with key.
func knownHostsFile(t testing.TB, key ssh.PublicKey, addrs ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "known_hosts")
	var b strings.Builder
	for _, a := range addrs {
		b.WriteString(knownhosts.Line([]string{knownhosts.Normalize(a)}, key) + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// stallingListener accepts connections and never says a word, like a host
// whose sshd is stuck.
func stallingListener(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	return ln.Addr().String()
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

const hangGuard = 20 * time.Second
