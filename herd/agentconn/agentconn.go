// Package agentconn is herd's controller side of its mTLS agents (package
// herd/agent): a runner.Connector whose sessions are TLS connections, on
// cport flows, to agents. The controller proves itself with a controller
// certificate from the herd CA, and checks that the agent's certificate
// comes from the same CA, carries the agent role and names the host that
// was dialled: the TLS equivalent of SSH's known_hosts.
//
// A session runs commands as shell command lines (sh -c on the agent),
// as herd's SSH sessions do, or as argv vectors with RunArgv. Output
// arrives as the agent sends it; when the run's context ends, the agent
// is told to kill the command and the connection is dropped, which kills
// it as well should the message not get through.
package agentconn

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/herd/agent"
	"github.com/cport/cport/herd/ca"
	"github.com/cport/cport/herd/runner"
	"github.com/cport/cport/jsonrpc"
	"github.com/cport/cport/loop"
)

// Config configures a Connector.
type Config struct {
	Loop *loop.Loop  // where the connections live; required
	TLS  *tls.Config // from ClientTLS; required
	Port int         // agents' port when a host names none; default agent.DefaultPort
	// MaxMessage bounds one message from an agent; default
	// agent.DefaultMaxMessage (output comes in far smaller chunks).
	MaxMessage int
	// MaxHandshakes bounds the connections in their TLS handshake at
	// once; default DefaultMaxHandshakes. Handshakes cost CPU on both
	// ends: thousands started together on one loop would all progress
	// slowly and all miss their timeouts, where a bounded number finish
	// in turn.
	MaxHandshakes int
}

// DefaultMaxHandshakes is Config.MaxHandshakes's default.
const DefaultMaxHandshakes = 64

// Connector opens sessions to agents; it implements runner.Connector.
type Connector struct {
	cfg        Config
	handshakes *runner.Handshakes // of cfg.Loop's flows
}

var _ runner.Queued = (*Connector)(nil)

// New returns a Connector for cfg.
func New(cfg Config) (*Connector, error) {
	if cfg.Loop == nil || cfg.TLS == nil {
		return nil, errors.New("agentconn: Config needs a Loop and a TLS configuration")
	}
	if cfg.Port == 0 {
		cfg.Port = agent.DefaultPort
	}
	if cfg.MaxMessage <= 0 {
		cfg.MaxMessage = agent.DefaultMaxMessage
	}
	if cfg.MaxHandshakes <= 0 {
		cfg.MaxHandshakes = DefaultMaxHandshakes
	}
	return &Connector{cfg: cfg, handshakes: runner.NewHandshakes(cfg.MaxHandshakes)}, nil
}

// ClientTLS returns a controller's TLS configuration: its certificate
// (certFile, keyFile, a controller certificate), and agents' certificates
// checked against caFile, for the host dialled, with the agent role.
func ClientTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	pool, err := ca.Pool(caFile)
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		// Sent whatever CAs the agent names as acceptable (crypto/tls
		// would send none to an agent of another CA): the agent's refusal
		// then says what is wrong with it.
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil },
		RootCAs:              pool,
		MinVersion:           tls.VersionTLS13,
		VerifyConnection:     VerifyAgentRole,
	}, nil
}

// VerifyAgentRole is a tls.Config.VerifyConnection that refuses a server
// whose (already verified) certificate lacks the agent role.
func VerifyAgentRole(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("agentconn: the agent sent no certificate")
	}
	leaf := cs.PeerCertificates[0]
	if r := ca.RoleOf(leaf); r != ca.Agent {
		return fmt.Errorf("agentconn: certificate %q is not an agent certificate (role %q)", leaf.Subject.CommonName, r)
	}
	return nil
}

// address turns a host name ("host" or "host:port", IPv6 in brackets)
// into the address to dial and the name its certificate must carry.
func (c *Connector) address(name string) (addr, host string, err error) {
	if strings.Contains(name, "@") {
		return "", "", fmt.Errorf("%s: agents run commands as their own user: no user@ in agent targets", name)
	}
	host, port := name, c.cfg.Port
	if h, p, err := net.SplitHostPort(name); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			return "", "", fmt.Errorf("%s: bad port %q", name, p)
		}
		host, port = h, n
	}
	if host == "" {
		return "", "", fmt.Errorf("%q: no host name", name)
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), host, nil
}

// Turn waits for a handshake slot; it makes c a runner.Queued, so that
// runner.Connect gives the connect timeout to the handshake alone, not
// to the wait behind other hosts' handshakes. Connect with the returned
// context (or one derived from it) uses the slot; release gives it back.
func (c *Connector) Turn(ctx context.Context) (context.Context, func(), error) {
	return c.handshakes.Turn(ctx)
}

// Connect dials the agent at name, completes the mutual TLS handshake
// and asks for the agent's facts, all before ctx ends. The agent's
// verdict on our certificate comes only after the handshake (TLS 1.3),
// so the facts' round trip is what proves the session was accepted.
// Call it from a flow of the Config's loop (ctx that flow's context or
// derived from it); it may wait there for a handshake slot, unless ctx
// comes from Turn.
func (c *Connector) Connect(ctx context.Context, name string) (runner.Session, error) {
	addr, host, err := c.address(name)
	if err != nil {
		return nil, &runner.ClassError{Class: runner.Error, Err: err}
	}
	if !c.cfg.Loop.InLoop() {
		return nil, &runner.ClassError{Class: runner.Error, Err: errors.New("agentconn: Connect called outside a flow of the connector's loop")}
	}
	return c.handshakes.Connect(ctx, 0, func(ctx context.Context) (runner.Session, error) {
		return c.handshake(ctx, addr, host)
	})
}

// handshake dials addr, completes the TLS handshake with the agent named
// host and asks for its facts.
func (c *Connector) handshake(ctx context.Context, addr, host string) (runner.Session, error) {
	cfg := c.cfg.TLS.Clone()
	cfg.ServerName = host
	tc, err := c.dial(ctx, addr, cfg)
	if err != nil {
		return nil, classify(err)
	}
	s := &Session{c: c, tc: tc, br: bufio.NewReaderSize(tc, readBufferSize)}
	if err := s.call(ctx, agent.MethodInfo, agent.InfoParams{Protocol: agent.ProtocolVersion}, &s.Info, nil, nil); err != nil {
		tc.Close()
		return nil, classify(err)
	}
	if s.Info.Protocol < agent.ProtocolJSON || s.Info.Protocol > agent.ProtocolVersion {
		tc.Close()
		return nil, &runner.ClassError{Class: runner.Error, Err: fmt.Errorf("agent %s speaks protocol %d, this controller %d to %d", s.Info.Version, s.Info.Protocol, agent.ProtocolJSON, agent.ProtocolVersion)}
	}
	s.frames = s.Info.Protocol >= agent.ProtocolFrames
	return s, nil
}

// dial dials addr and completes the TLS handshake in a flow of its own,
// bounded by ctx. crypto/tls's handshake runs deep (certificate checks,
// key exchange): in the host's flow it would grow that flow's stack for
// as long as the session lasts, where a flow that ends gives its stack
// back, and at most MaxHandshakes of them run at once.
func (c *Connector) dial(ctx context.Context, addr string, cfg *tls.Config) (*flow.TLSConn, error) {
	var tc *flow.TLSConn
	var err error
	hs := flow.Go(c.cfg.Loop, func(f *flow.Flow) {
		// Blocking calls park the flow their context carries: this
		// flow's, ended with ctx.
		hctx := f.Context()
		if d, ok := ctx.Deadline(); ok {
			var cancel context.CancelFunc
			hctx, cancel = context.WithDeadline(hctx, d)
			defer cancel()
		}
		stop := context.AfterFunc(ctx, f.Cancel)
		defer stop()
		tc, err = flow.DialTLS(hctx, c.cfg.Loop, "tcp", addr, cfg)
		if err != nil && ctx.Err() != nil {
			err = ctx.Err()
		}
	})
	// Joined to the end even when ctx ends (the handshake then ends
	// too), so that a connection made meanwhile is not lost.
	if jerr := hs.Join(context.WithoutCancel(ctx)); jerr != nil {
		return nil, jerr
	}
	return tc, err
}

// classify sorts connection errors into the runner's classes: the
// agent's certificate refused by us is HostKey (as a bad SSH host key
// would be), ours refused by the agent is AuthFailed; the rest are
// connection errors, retried.
func classify(err error) error {
	var verr *tls.CertificateVerificationError
	var hostErr x509.HostnameError
	var op *net.OpError
	var ce *runner.ClassError
	switch {
	case errors.As(err, &ce), errors.Is(err, context.Canceled):
		return err
	case errors.As(err, &hostErr):
		return &runner.ClassError{Class: runner.HostKey, Err: fmt.Errorf("agent certificate does not name the host dialled: %w", err)}
	case errors.As(err, &verr):
		return &runner.ClassError{Class: runner.HostKey, Err: fmt.Errorf("agent certificate refused: %w", err)}
	case strings.Contains(err.Error(), "agentconn: certificate"):
		return &runner.ClassError{Class: runner.HostKey, Err: err}
	case errors.As(err, &op) && op.Op == "remote error":
		// An alert from the agent: it refused our certificate.
		return &runner.ClassError{Class: runner.AuthFailed, Err: fmt.Errorf("%s (agent's alert: %w; its log says more)", refusedBecause(op.Err.Error()), err)}
	}
	return err
}

// refusedBecause reads an agent's TLS alert.
func refusedBecause(alert string) string {
	switch alert {
	case "tls: certificate required":
		return "the agent requires a controller certificate and none was sent"
	case "tls: unknown certificate authority":
		return "the agent does not trust our certificate's CA"
	case "tls: expired certificate":
		return "the agent finds our certificate expired or not yet valid"
	case "tls: bad certificate":
		return "the agent refused our certificate: not a controller certificate"
	}
	return "the agent refused the connection"
}

// Session is one TLS connection to an agent.
type Session struct {
	Info agent.Info // the agent's version and host facts

	c      *Connector
	tc     *flow.TLSConn
	br     *bufio.Reader
	frames bool // the agent sends output as frames (agent.ProtocolFrames)
	next   int64
	dead   bool // the connection is unusable: cancelled or failed
}

// Run runs cmd with /bin/sh -c on the agent; see RunArgv.
func (s *Session) Run(ctx context.Context, cmd string, stdout, stderr io.Writer) (int, error) {
	return s.run(ctx, agent.RunParams{Shell: cmd}, stdout, stderr)
}

// RunArgv runs argv on the agent without a shell and returns its exit
// status (128+N after signal N). If ctx ends first, the command's process
// group is killed and ctx's error returned; the session is then closed.
func (s *Session) RunArgv(ctx context.Context, argv []string, stdout, stderr io.Writer) (int, error) {
	return s.run(ctx, agent.RunParams{Argv: argv}, stdout, stderr)
}

func (s *Session) run(ctx context.Context, p agent.RunParams, stdout, stderr io.Writer) (int, error) {
	if s.dead {
		return -1, &runner.ClassError{Class: runner.Error, Err: errors.New("agentconn: session closed")}
	}
	p.Job = strconv.FormatInt(s.next+1, 10)
	if d, ok := ctx.Deadline(); ok {
		// The agent enforces the deadline too, should we lose sight of it.
		p.TimeoutMS = max(1, time.Until(d).Milliseconds()+1)
	}
	var res agent.RunResult
	err := s.call(ctx, agent.MethodRun, p, &res, stdout, stderr)
	switch {
	case ctx.Err() != nil || expired(ctx):
		s.abort(p.Job)
		if err := ctx.Err(); err != nil {
			return -1, err
		}
		return -1, context.DeadlineExceeded
	case err != nil:
		s.dead = true
		var rerr *jsonrpc.Error
		if errors.As(err, &rerr) {
			return -1, &runner.ClassError{Class: runner.Error, Err: fmt.Errorf("agent: %s", rerr.Message)}
		}
		return -1, &runner.ClassError{Class: runner.Error, Err: fmt.Errorf("connection to the agent lost: %w", err)}
	case res.TimedOut:
		return -1, context.DeadlineExceeded
	}
	if res.Signal != "" {
		fmt.Fprintf(stderr, "killed by signal %s\n", res.Signal)
	}
	return res.Exit, nil
}

// abort tells the agent to kill the job, as far as it can in a moment,
// and drops the connection, which kills it anyway.
func (s *Session) abort(job string) {
	s.dead = true
	s.tc.SetWriteDeadline(time.Now().Add(time.Second))
	b, _ := json.Marshal(message{JSONRPC: "2.0", Method: agent.MethodCancel, Params: agent.CancelParams{Job: job}})
	s.tc.Write(append(b, '\n'))
	s.tc.Close()
}

// Close ends the session.
func (s *Session) Close() error {
	s.dead = true
	return s.tc.Close()
}

// message is any JSON-RPC message, either way.
type message struct {
	JSONRPC string          `json:"jsonrpc"`
	Method  string          `json:"method,omitempty"`
	Params  any             `json:"params,omitempty"`
	ID      *int64          `json:"id,omitempty"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *jsonrpc.Error  `json:"error,omitempty"`
}

// incoming is a message from the agent: a reply or a notification.
type incoming struct {
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *jsonrpc.Error  `json:"error"`
}

// call sends a request and reads until its reply, writing output
// notifications to stdout and stderr meanwhile. ctx's end cuts the reads
// short (through the connection's deadline).
func (s *Session) call(ctx context.Context, method string, params, result any, stdout, stderr io.Writer) error {
	if d, ok := ctx.Deadline(); ok {
		s.tc.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { s.tc.SetDeadline(time.Unix(1, 0)) })
	err := s.exchange(method, params, result, stdout, stderr)
	if !stop() {
		// ctx ended: its deadline in the past may reach the connection
		// at any moment, so the connection is done for, whatever came.
		s.dead = true
		if err == nil {
			err = ctx.Err()
		}
		return err
	}
	if err == nil {
		err = s.tc.SetDeadline(time.Time{})
	}
	return err
}

// exchange is call without the context.
func (s *Session) exchange(method string, params, result any, stdout, stderr io.Writer) error {
	s.next++
	id := s.next
	b, err := json.Marshal(message{JSONRPC: "2.0", Method: method, Params: params, ID: &id})
	if err != nil {
		return err
	}
	if _, err := s.tc.Write(append(b, '\n')); err != nil {
		return err
	}
	want := strconv.FormatInt(id, 10)
	for {
		first, err := s.br.Peek(1)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		if first[0] == agent.FrameOutput {
			if err := s.frame(stdout, stderr); err != nil {
				return err
			}
			continue
		}
		line, err := readLine(s.br, s.c.cfg.MaxMessage)
		if len(line) == 0 && err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		var m incoming
		if err := json.Unmarshal(line, &m); err != nil {
			return fmt.Errorf("agentconn: bad message from the agent: %w", err)
		}
		if m.Method == agent.NotifyOutput {
			var out agent.OutputParams
			if err := json.Unmarshal(m.Params, &out); err != nil {
				return fmt.Errorf("agentconn: bad output notification: %w", err)
			}
			switch {
			case out.Stream == agent.Stdout && stdout != nil:
				stdout.Write(out.Data)
			case out.Stream == agent.Stderr && stderr != nil:
				stderr.Write(out.Data)
			}
			continue
		}
		if m.Method != "" || string(m.ID) != want {
			continue // another notification, or a reply to an abandoned call
		}
		if m.Error != nil {
			return m.Error
		}
		if result == nil {
			return nil
		}
		return json.Unmarshal(m.Result, result)
	}
}

// frame reads an output frame and writes its bytes to stdout or stderr.
func (s *Session) frame(stdout, stderr io.Writer) error {
	if !s.frames {
		return fmt.Errorf("agentconn: an output frame from an agent speaking protocol %d", s.Info.Protocol)
	}
	hdr, err := agent.ReadOutputHeader(s.br, s.c.cfg.MaxMessage)
	if err != nil {
		return fmt.Errorf("agentconn: %w", err)
	}
	w := stdout
	if hdr.Stream == agent.Stderr {
		w = stderr
	}
	return s.copyOut(w, hdr.Len)
}

// outputBuffers hold frame data read past the session's small buffer;
// a session holds one only while such data comes in, so they are shared.
var outputBuffers = sync.Pool{New: func() any { b := make([]byte, outputBufferSize); return &b }}

// Sizes of the buffers a session reads with.
const (
	// readBufferSize is every session's own: it holds JSON replies and
	// frame headers, and is kept as long as the session (a longer reply
	// is gathered in pieces).
	readBufferSize = 1 << 10
	// outputBufferSize is the pooled buffers': a TLS record's bytes.
	outputBufferSize = 16 << 10
)

// copyOut copies the next n bytes of the stream to w (nil: dropped):
// those already in the session's buffer from there, the rest read
// straight into a pooled buffer.
func (s *Session) copyOut(w io.Writer, n int) error {
	for n > 0 {
		if s.br.Buffered() == 0 && n >= s.br.Size() {
			bp := outputBuffers.Get().(*[]byte)
			k, err := s.br.Read((*bp)[:min(n, len(*bp))])
			if k > 0 && w != nil {
				w.Write((*bp)[:k])
			}
			outputBuffers.Put(bp)
			n -= k
			if err != nil {
				return noEOF(err)
			}
			continue
		}
		if _, err := s.br.Peek(1); err != nil {
			return noEOF(err)
		}
		k := min(n, s.br.Buffered())
		b, _ := s.br.Peek(k)
		if w != nil {
			w.Write(b)
		}
		s.br.Discard(k)
		n -= k
	}
	return nil
}

// noEOF turns an end of stream inside a message into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

var errTooLarge = errors.New("agentconn: message from the agent too large")

// readLine reads one message up to its newline, of at most limit bytes.
func readLine(br *bufio.Reader, limit int) ([]byte, error) {
	var msg []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(msg)+len(frag) > limit {
			return nil, errTooLarge
		}
		msg = append(msg, frag...)
		if err != bufio.ErrBufferFull {
			if err == io.EOF && len(msg) > 0 && msg[len(msg)-1] != '\n' {
				return nil, io.ErrUnexpectedEOF
			}
			return msg, err
		}
	}
}

// expired reports whether ctx's deadline has passed (a flow's timer may
// fire before the context marks itself done).
func expired(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}
