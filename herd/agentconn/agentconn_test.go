package agentconn_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"log/slog"
	"math/big"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/herd/agent"
	"github.com/cport/cport/herd/agentconn"
	"github.com/cport/cport/herd/ca"
	"github.com/cport/cport/herd/runner"
	"github.com/cport/cport/loop"
)

// lab is an agent for 127.0.0.1 and the certificates to reach it with.
type lab struct {
	dir, other string // this CA's directory, and a stranger CA's
	port       string
	log        *syncBuffer
	l          *loop.Loop
}

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

func newCA(t *testing.T, name string) (string, *ca.Authority) {
	t.Helper()
	dir := t.TempDir()
	if err := ca.Init(dir, name, 0); err != nil {
		t.Fatal(err)
	}
	auth, err := ca.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, auth
}

func issue(t *testing.T, auth *ca.Authority, dir, file string, req ca.Request) {
	t.Helper()
	is, err := auth.Issue(req)
	if err != nil {
		t.Fatal(err)
	}
	if err := is.Write(dir, file); err != nil {
		t.Fatal(err)
	}
}

func newLab(t *testing.T) *lab { t.Helper(); return newLabSpeaking(t, 0) }

// newLabSpeaking is newLab with an agent that grants at most protocol
// version protocol (0: its newest).
func newLabSpeaking(t *testing.T, protocol int) *lab {
	t.Helper()
	dir, auth := newCA(t, "lab CA")
	other, oauth := newCA(t, "stranger CA")
	issue(t, auth, dir, "agent", ca.Request{Role: ca.Agent, Name: "127.0.0.1"})
	issue(t, auth, dir, "ops", ca.Request{Role: ca.Controller, Name: "ops"})
	issue(t, auth, dir, "expired", ca.Request{Role: ca.Controller, Name: "old",
		NotBefore: time.Now().Add(-48 * time.Hour), Lifetime: 24 * time.Hour})
	issue(t, oauth, other, "ops", ca.Request{Role: ca.Controller, Name: "intruder"})
	issue(t, oauth, other, "agent", ca.Request{Role: ca.Agent, Name: "127.0.0.1"})

	lb := &lab{dir: dir, other: other, log: &syncBuffer{}}
	srvTLS, err := agent.ServerTLS(filepath.Join(dir, ca.CACertFile), filepath.Join(dir, "agent.crt"), filepath.Join(dir, "agent.key"))
	if err != nil {
		t.Fatal(err)
	}
	lb.port = startAgent(t, agent.Config{TLS: srvTLS, Protocol: protocol}, lb.log)
	lb.l, err = loop.Start(loop.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lb.l.Close() })
	return lb
}

// startAgent serves an agent on 127.0.0.1 and returns its port.
func startAgent(t *testing.T, cfg agent.Config, log *syncBuffer) string {
	t.Helper()
	cfg.Logger = slog.New(slog.NewTextHandler(log, nil))
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
	go srv.Serve(ln)
	t.Cleanup(func() {
		ln.Close()
		srv.Close(5 * time.Second)
		g.Close()
	})
	_, port, _ := strings.Cut(ln.Addr().String(), ":")
	return port
}

// clientTLS is a controller configuration: dir's CA trusted, with the
// certificate file (none if "").
func (lb *lab) clientTLS(t *testing.T, certDir, file string) *tls.Config {
	t.Helper()
	if file == "" {
		cfg, err := agentconn.ClientTLS(filepath.Join(lb.dir, ca.CACertFile), filepath.Join(lb.dir, "ops.crt"), filepath.Join(lb.dir, "ops.key"))
		if err != nil {
			t.Fatal(err)
		}
		cfg.GetClientCertificate = nil
		return cfg
	}
	cfg, err := agentconn.ClientTLS(filepath.Join(lb.dir, ca.CACertFile), filepath.Join(certDir, file+".crt"), filepath.Join(certDir, file+".key"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// connect runs Connect in a flow, as the runner does.
func (lb *lab) connect(t *testing.T, cfg *tls.Config, host string) (runner.Session, error) {
	t.Helper()
	c, err := agentconn.New(agentconn.Config{Loop: lb.l, TLS: cfg})
	if err != nil {
		t.Fatal(err)
	}
	var s runner.Session
	f := flow.Go(lb.l, func(f *flow.Flow) {
		ctx, cancel := context.WithTimeout(f.Context(), 10*time.Second)
		defer cancel()
		s, err = c.Connect(ctx, host)
	})
	if werr := f.Wait(); werr != nil {
		t.Fatal(werr)
	}
	if s != nil {
		t.Cleanup(func() { flow.Go(lb.l, func(*flow.Flow) { s.Close() }).Wait() })
	}
	return s, err
}

func (lb *lab) waitLog(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(lb.log.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the agent logged no line with %q; its log:\n%s", want, lb.log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Every way a connection must be refused is refused, with a clear error
// on the controller and a line in the agent's log.
func TestRefusals(t *testing.T) {
	lb := newLab(t)
	cases := []struct {
		name      string
		cfg       func() *tls.Config
		host      string
		class     runner.Class
		ctlErr    string // in the controller's error
		agentLog  string // in the agent's log
		agentHost bool   // dial as the agent names itself
	}{
		{"no client certificate", func() *tls.Config { return lb.clientTLS(t, "", "") }, "127.0.0.1",
			runner.AuthFailed, "none was sent", "client certificate refused: none given", true},
		{"certificate from another CA", func() *tls.Config { return lb.clientTLS(t, lb.other, "ops") }, "127.0.0.1",
			runner.AuthFailed, "does not trust our certificate's CA", `client certificate \"intruder\" refused: signed by an unknown CA`, true},
		{"agent certificate as controller", func() *tls.Config { return lb.clientTLS(t, lb.dir, "agent") }, "127.0.0.1",
			runner.AuthFailed, "not a controller certificate", "a agent certificate cannot act as a controller", true},
		{"expired certificate", func() *tls.Config { return lb.clientTLS(t, lb.dir, "expired") }, "127.0.0.1",
			runner.AuthFailed, "expired", `client certificate \"old\" refused: outside its validity period`, true},
		{"wrong host name", func() *tls.Config { return lb.clientTLS(t, lb.dir, "ops") }, "localhost",
			runner.HostKey, "does not name the host dialled", "the controller refused the agent's certificate", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := lb.connect(t, tc.cfg(), tc.host+":"+lb.port)
			if err == nil {
				s.Close()
				t.Fatal("connected")
			}
			if got := runner.Classify(err); got != tc.class {
				t.Errorf("class %v, want %v (%v)", got, tc.class, err)
			}
			if !strings.Contains(err.Error(), tc.ctlErr) {
				t.Errorf("controller error %q, want it to say %q", err, tc.ctlErr)
			}
			lb.waitLog(t, tc.agentLog)
			t.Logf("controller: %v", err)
		})
	}
}

// A controller refuses an agent whose certificate comes from another
// CA: someone else's agent on the address.
func TestImpostorAgent(t *testing.T) {
	lb := newLab(t)
	srvTLS, err := agent.ServerTLS(filepath.Join(lb.other, ca.CACertFile), filepath.Join(lb.other, "agent.crt"), filepath.Join(lb.other, "agent.key"))
	if err != nil {
		t.Fatal(err)
	}
	port := startAgent(t, agent.Config{TLS: srvTLS}, &syncBuffer{})
	_, err = lb.connect(t, lb.clientTLS(t, lb.dir, "ops"), "127.0.0.1:"+port)
	if runner.Classify(err) != runner.HostKey || !strings.Contains(err.Error(), "agent certificate refused") {
		t.Fatalf("impostor agent: %v (class %v), want a refused agent certificate", err, runner.Classify(err))
	}
}

func TestUserInTarget(t *testing.T) {
	lb := newLab(t)
	_, err := lb.connect(t, lb.clientTLS(t, lb.dir, "ops"), "root@127.0.0.1:"+lb.port)
	if runner.Classify(err) != runner.Error || !strings.Contains(err.Error(), "no user@") {
		t.Fatalf("user@host: %v", err)
	}
}

func TestRun(t *testing.T) {
	lb := newLab(t)
	s, err := lb.connect(t, lb.clientTLS(t, lb.dir, "ops"), "127.0.0.1:"+lb.port)
	if err != nil {
		t.Fatal(err)
	}
	if info := s.(*agentconn.Session).Info; info.Protocol != agent.ProtocolVersion || info.OS == "" || info.CPUs <= 0 {
		t.Errorf("agent facts %+v", info)
	}
	var stdout, stderr bytes.Buffer
	var exit int
	flow.Go(lb.l, func(f *flow.Flow) {
		exit, err = s.Run(f.Context(), "echo out; echo err >&2; exit 5", &stdout, &stderr)
	}).Wait()
	if err != nil || exit != 5 || stdout.String() != "out\n" || stderr.String() != "err\n" {
		t.Fatalf("run: exit %d, %v, stdout %q, stderr %q", exit, err, stdout.String(), stderr.String())
	}
	flow.Go(lb.l, func(f *flow.Flow) {
		exit, err = s.(*agentconn.Session).RunArgv(f.Context(), []string{"printf", "%s|", "a b", "c"}, &stdout, &stderr)
	}).Wait()
	if err != nil || exit != 0 || !strings.HasSuffix(stdout.String(), "a b|c|") {
		t.Fatalf("argv run: exit %d, %v, stdout %q", exit, err, stdout.String())
	}
	flow.Go(lb.l, func(f *flow.Flow) {
		ctx, cancel := context.WithTimeout(f.Context(), 200*time.Millisecond)
		defer cancel()
		exit, err = s.Run(ctx, "sleep 1000", &stdout, &stderr)
	}).Wait()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("run past its deadline: exit %d, %v; want DeadlineExceeded", exit, err)
	}
}

// A certificate fit for client authentication but marked with the agent
// role is no controller's: the role, not only the key usage, is checked.
func TestRoleMarkerChecked(t *testing.T) {
	lb := newLab(t)
	caCert, err := ca.ReadCert(filepath.Join(lb.dir, ca.CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := ca.ReadKey(filepath.Join(lb.dir, ca.CAKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42),
		Subject:      pkix.Name{CommonName: "sneaky"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		URIs:         []*url.URL{{Scheme: "herd", Opaque: "agent"}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	cfg := lb.clientTLS(t, lb.dir, "ops")
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	_, err = lb.connect(t, cfg, "127.0.0.1:"+lb.port)
	if runner.Classify(err) != runner.AuthFailed {
		t.Fatalf("agent-role client certificate: %v (class %v), want refused", err, runner.Classify(err))
	}
	lb.waitLog(t, `client certificate \"sneaky\" refused: carries the agent role, not controller`)
}
