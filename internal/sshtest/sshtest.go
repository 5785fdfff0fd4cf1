// Package sshtest is an in-process SSH server for herd's tests: a real
// peer on loopback, built on x/crypto/ssh with plain goroutines, speaking
// the real protocol with real public-key authentication. Its exec requests
// run a tiny command language instead of a shell:
//
//	out TEXT    write TEXT and a newline to stdout
//	err TEXT    write TEXT and a newline to stderr
//	part TEXT   write TEXT with no newline
//	exit N      exit with status N
//	hang        wait for a signal or the channel's end
//
// with commands separated by ";". A server also forwards direct-tcpip
// channels (so it can be a ProxyJump host) and, with Options.Root, serves
// the sftp subsystem from a directory.
package sshtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Server is one SSH server.
type Server struct {
	Addr    string
	HostKey ssh.Signer
	// Ended receives, for each "hang" command, how it ended: the signal
	// name sent ("KILL") or "hangup" when the channel closed first.
	Ended chan string
	// Forwarded receives the target of each direct-tcpip channel opened
	// through this server, as the client named it.
	Forwarded chan string

	opts Options
}

// Options configure a server beyond Start's user and key.
type Options struct {
	User string        // the one user let in
	Key  ssh.PublicKey // the key that user logs in with; nil: none
	// CA, if set, also lets in the user with a certificate it signed that
	// names the user as a principal.
	CA ssh.PublicKey
	// Root, if set, is served over the sftp subsystem, as the working
	// directory that relative paths start from.
	Root string
	// SFTPStall makes the sftp subsystem accept and then say nothing,
	// like a host whose sftp-server hangs.
	SFTPStall bool
	// Routes maps direct-tcpip targets ("name:port") to the addresses
	// really dialled, standing in for names only the server can resolve.
	Routes map[string]string
}

// NewKey returns a fresh ed25519 key.
func NewKey(t testing.TB) ssh.Signer {
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

// NewKeyFile writes a fresh ed25519 private key in OpenSSH format to a
// temporary file and returns its path and signer.
func NewKeyFile(t testing.TB) (string, ssh.Signer) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return path, s
}

// Start starts a server on 127.0.0.1 that lets user in with clientKey
// only; it stops when the test ends.
func Start(t testing.TB, user string, clientKey ssh.PublicKey) *Server {
	t.Helper()
	return StartOptions(t, Options{User: user, Key: clientKey})
}

// StartOptions starts a server configured by o on 127.0.0.1; it stops
// when the test ends.
func StartOptions(t testing.TB, o Options) *Server {
	t.Helper()
	srv := &Server{HostKey: NewKey(t), Ended: make(chan string, 64), Forwarded: make(chan string, 64), opts: o}
	byKey := func(c ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		if o.Key != nil && c.User() == o.User && string(k.Marshal()) == string(o.Key.Marshal()) {
			return nil, nil
		}
		return nil, fmt.Errorf("key refused")
	}
	checker := &ssh.CertChecker{
		IsUserAuthority: func(auth ssh.PublicKey) bool {
			return o.CA != nil && string(auth.Marshal()) == string(o.CA.Marshal())
		},
		UserKeyFallback: byKey,
	}
	cfg := &ssh.ServerConfig{PublicKeyCallback: checker.Authenticate}
	cfg.AddHostKey(srv.HostKey)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	srv.Addr = ln.Addr().String()
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

func (srv *Server) serve(c net.Conn, cfg *ssh.ServerConfig) {
	defer c.Close()
	_, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() == "direct-tcpip" {
			go srv.forward(nc)
			continue
		}
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

// str reads an SSH string from the front of b.
func str(b []byte) string {
	if len(b) < 4 {
		return ""
	}
	n := binary.BigEndian.Uint32(b)
	if uint32(len(b)-4) < n {
		return ""
	}
	return string(b[4 : 4+n])
}

func (srv *Server) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	signal := make(chan string, 1)
	execs := make(chan string, 1)
	subsystem := make(chan string, 1)
	go func() {
		// The reply goes out before the request is handed over: the
		// command may finish and close the channel at once, and a reply
		// after the close never reaches the client, which then sees the
		// channel end without an answer (EOF) instead of the exit status.
		started := false
		for r := range reqs {
			switch r.Type {
			case "subsystem":
				ok := !started && str(r.Payload) == "sftp" && (srv.opts.Root != "" || srv.opts.SFTPStall)
				r.Reply(ok, nil)
				if ok {
					started = true
					subsystem <- "sftp"
				}
			case "exec":
				ok := !started
				r.Reply(ok, nil)
				if ok {
					started = true
					execs <- str(r.Payload)
				}
			case "signal":
				select {
				case signal <- str(r.Payload):
				default:
				}
			default:
				r.Reply(false, nil)
			}
		}
		close(signal)
	}()
	var cmd string
	select {
	case cmd = <-execs:
	case <-subsystem:
		srv.serveSFTP(ch)
		return
	}
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
			srv.Ended <- sig
			return
		}
	}
	ch.SendRequest("exit-status", false, binary.BigEndian.AppendUint32(nil, uint32(status)))
}

// KnownHosts writes a known_hosts file naming each addr with key and
// returns its path.
func KnownHosts(t testing.TB, key ssh.PublicKey, addrs ...string) string {
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

// Stalling returns the address of a listener that accepts connections and
// never says a word, like a host whose sshd is stuck.
func Stalling(t testing.TB) string {
	t.Helper()
	return StartGate(t).Addr
}

// ClosedPort returns a loopback address nothing listens on.
func ClosedPort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
