package flow_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/loop"
	"github.com/cport/cport/transport"
)

// serveTLSEcho accepts from ln on a goroutine and echoes each connection
// in a flow on its loop; handshake and serving errors go to errs.
func serveTLSEcho(t *testing.T, ln net.Listener, errs chan<- error) {
	t.Helper()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			flow.Go(flow.LoopOf(c), func(f *flow.Flow) {
				defer c.Close()
				if err := c.(*flow.TLSConn).HandshakeContext(f.Context()); err != nil {
					errs <- err
					return
				}
				buf := make([]byte, 4<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						if _, err := c.Write(buf[:n]); err != nil {
							errs <- err
							return
						}
					}
					if err != nil {
						if err != io.EOF {
							errs <- err
						}
						return
					}
				}
			})
		}
	}()
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// echoOver writes msg on c from a goroutine and checks it comes back.
func echoOver(t *testing.T, c net.Conn, msg []byte) {
	t.Helper()
	c.SetDeadline(time.Now().Add(hangGuard))
	go c.Write(msg)
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read back: %v", err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("echo differs from the %d bytes sent", len(msg))
	}
}

// listenTLS listens with ListenTLS on an ephemeral port of 127.0.0.1 over
// g, until the test ends.
func listenTLS(t *testing.T, g *loop.Group, cert *testCert) net.Listener {
	t.Helper()
	ln, err := flow.ListenTLS(context.Background(), g, "tcp", "127.0.0.1:0", cert.server())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// serveOneTLS accepts one connection from ln and serves it with fn in a
// flow on its loop, after the handshake (which must come first when
// serve starts more flows on the connection: see TLSConn).
func serveOneTLS(t *testing.T, ln net.Listener, serve func(f *flow.Flow, c *flow.TLSConn)) {
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		flow.Go(flow.LoopOf(c), func(f *flow.Flow) {
			defer c.Close()
			tc := c.(*flow.TLSConn)
			if err := tc.HandshakeContext(f.Context()); err != nil {
				t.Errorf("handshake: %v", err)
				return
			}
			serve(f, tc)
		})
	}()
}

// opensslBinary returns the openssl command's path, or skips the test.
func opensslBinary(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not found: apt-get install openssl")
	}
	return bin
}

// ListenTLS serves flows that echo; Go's tls clients handshake and get
// their bytes back, several at once.
func TestTLSEchoGoClient(t *testing.T) {
	cert := newTestCert(t)
	g := startGroup(t, 2)
	ln := listenTLS(t, g, cert)
	errs := make(chan error, 16)
	serveTLSEcho(t, ln, errs)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := tls.Dial("tcp", ln.Addr().String(), cert.client())
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			echoOver(t, c, randomBytes(uint64(i), 1<<20))
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatalf("server: %v", err)
	default:
	}
}

// openssl s_client handshakes with a flow, and with a callback Protocol
// served by TLSServer, and gets its line echoed.
func TestTLSOpenSSLClient(t *testing.T) {
	bin := opensslBinary(t)
	cert := newTestCert(t)
	g := startGroup(t, 1)
	ln := listenTLS(t, g, cert)
	serveTLSEcho(t, ln, make(chan error, 4))
	pln, err := flow.ServeProtocolTLS(g, "tcp", "127.0.0.1:0", cert.server(), func() transport.Protocol {
		return &echoProto{lost: make(chan error, 1)}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer pln.Close()
	for _, addr := range []string{ln.Addr().String(), pln.Addr().String()} {
		opensslEcho(t, bin, addr, cert.certFile)
	}
}

// openssl s_client asks for a key update ("K": update requested) between
// two echoed lines: the flow's Read must take the peer's new keys and
// send its own KeyUpdate through the connection under crypto/tls, and
// the echo go on under the new keys both ways.
func TestTLSKeyUpdateFromOpenSSL(t *testing.T) {
	bin := opensslBinary(t)
	cert := newTestCert(t)
	g := startGroup(t, 1)
	ln := listenTLS(t, g, cert)
	errs := make(chan error, 4)
	serveTLSEcho(t, ln, errs)
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	// -quiet turns commands off; -no_ign_eof turns them back on.
	cmd := exec.CommandContext(ctx, bin, "s_client", "-connect", ln.Addr().String(),
		"-CAfile", cert.certFile, "-verify_return_error", "-quiet", "-no_ign_eof", "-tls1_3")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	// s_client takes "K" as a command only when it reads it alone, and
	// says KEYUPDATE once it has sent the update: wait for that before
	// the next line.
	said := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			said <- sc.Text()
		}
		close(said)
	}()
	out := bufio.NewReader(stdout)
	echo := func(line string) {
		t.Helper()
		io.WriteString(stdin, line+"\n")
		got, err := out.ReadString('\n')
		if err != nil || strings.TrimSpace(got) != line {
			t.Fatalf("echo %q, err %v, want %q", got, err, line)
		}
	}
	echo("before the key update")
	io.WriteString(stdin, "K\n")
	for line := range said {
		if line == "KEYUPDATE" {
			break
		}
	}
	echo("after the key update")
	select {
	case err := <-errs:
		t.Fatalf("server: %v", err)
	default:
	}
}

// opensslEcho sends a line through openssl s_client and reads it back.
func opensslEcho(t *testing.T, bin, addr, caFile string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "s_client", "-connect", addr,
		"-CAfile", caFile, "-verify_return_error", "-quiet")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	line := "hello from openssl to " + addr
	io.WriteString(stdin, line+"\n")
	got, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(got) != line {
		t.Fatalf("echo %q, err %v; openssl said: %s", got, err, stderr.String())
	}
}

// DialTLS from a flow reaches Go's tls server; a server it cannot verify
// is an error, not a panic.
func TestDialTLS(t *testing.T) {
	cert := newTestCert(t)
	gl, err := tls.Listen("tcp", "127.0.0.1:0", cert.server())
	if err != nil {
		t.Fatal(err)
	}
	defer gl.Close()
	go func() {
		for {
			c, err := gl.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	l := startLoop(t, loop.Config{})
	run(t, l, func(f *flow.Flow) {
		c, err := flow.DialTLS(f.Context(), l, "tcp", gl.Addr().String(), cert.client())
		if err != nil {
			t.Errorf("DialTLS: %v", err)
			return
		}
		msg := randomBytes(9, 200<<10)
		if _, err := c.Write(msg); err != nil {
			t.Errorf("Write: %v", err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
			t.Errorf("read back %v, equal %v", err, bytes.Equal(got, msg))
		}
		c.Close()
		_, err = flow.DialTLS(f.Context(), l, "tcp", gl.Addr().String(), &tls.Config{})
		var uerr x509UnknownAuthority
		if err == nil || !errors.As(err, &uerr) {
			t.Errorf("DialTLS without the root: %v, want unknown authority", err)
		}
	})
}

// echoProto is a transport Protocol that echoes and reports its end.
type echoProto struct {
	transport.BaseProtocol
	t    transport.Transport
	lost chan error
}

func (p *echoProto) ConnectionMade(t transport.Transport) { p.t = t }
func (p *echoProto) DataReceived(b []byte)                { p.t.Write(b) }
func (p *echoProto) ConnectionLost(err error)             { p.lost <- err }

// A callback Protocol served over TLS echoes; the client's close_notify
// reaches EOFReceived, and the server's close reaches the client as EOF.
func TestServeProtocolTLS(t *testing.T) {
	cert := newTestCert(t)
	g := startGroup(t, 2)
	lost := make(chan error, 1)
	c := dialProtocolTLS(t, g, cert, func() transport.Protocol { return &echoProto{lost: lost} })
	echoOver(t, c, randomBytes(3, 1<<20))
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after close_notify the client read %d, %v; want EOF", n, err)
	}
	if err := within(t, lost, "ConnectionLost"); err != nil {
		t.Fatalf("ConnectionLost(%v), want nil", err)
	}
}

// Handshakes that fail — a client that does not trust the certificate, a
// client that sends a plain HTTP request — are reported as errors, and
// the connection is closed.
func TestTLSHandshakeFailures(t *testing.T) {
	cert := newTestCert(t)
	g := startGroup(t, 1)
	failed := make(chan error, 4)
	s := &flow.TLSServer{
		Config:           cert.server(),
		Factory:          func() transport.Protocol { return &echoProto{lost: make(chan error, 1)} },
		OnHandshakeError: func(_ net.Addr, err error) { failed <- err },
	}
	ln, err := s.Listen(g, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	_, err = tls.Dial("tcp", ln.Addr().String(), &tls.Config{ServerName: "127.0.0.1"})
	var uerr x509UnknownAuthority
	if !errors.As(err, &uerr) {
		t.Errorf("untrusting client: %v, want unknown authority", err)
	}
	if err := within(t, failed, "the server's handshake error"); err == nil {
		t.Error("server reported a nil handshake error")
	}

	garbage(t, ln.Addr().String())
	if err := within(t, failed, "the server's handshake error"); err == nil {
		t.Error("server reported a nil handshake error")
	}

	// The same through ListenTLS: the serving flow's handshake fails.
	tln := listenTLS(t, g, cert)
	errs := make(chan error, 1)
	serveTLSEcho(t, tln, errs)
	garbage(t, tln.Addr().String())
	if err := within(t, errs, "the serving flow's handshake error"); err == nil {
		t.Error("nil handshake error")
	}
}

// garbage sends an HTTP request to a TLS server and expects it to close.
func garbage(t *testing.T, addr string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(hangGuard))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: example\r\n\r\n")
	if _, err := io.Copy(io.Discard, c); err != nil {
		t.Errorf("reading until the server closes: %v", err)
	}
}

type x509UnknownAuthority = x509.UnknownAuthorityError
