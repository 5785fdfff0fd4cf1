// Package sshsession is herd's SSH side: a runner.Connector that speaks
// SSH (golang.org/x/crypto/ssh) over flow.Conn connections, with strict
// known_hosts checking, ssh-agent, key and certificate authentication,
// OpenSSH client config files and ProxyJump (config.go, jump.go), and
// file copies over SFTP (sftp.go). A command whose run ends early (its
// timeout, or Ctrl-C) is killed on its host with its children: by
// default through a second session that kills the process group of the
// login shell, whose pid the shell printed first (kill.go); or by a
// /bin/sh watchdog around the command (guard.go).
//
// Each host is a flow. x/crypto/ssh itself waits on Go channels and
// starts goroutines of its own (a reader, the key exchange and a
// multiplexer per connection), which a flow must not do on its loop's
// thread; so resolving the host's route, the dial and handshake (on a
// pool bounded by MaxHandshakes), opening a session and running the
// command (reading its stdout, while one more goroutine reads its
// stderr; on a pool sized to the fan-out) run on workers, with the flow
// parked meanwhile, and one goroutine per connection serves the
// server's requests (client.go). The connection's bytes still move on
// the loop. Those goroutines' stacks are most of what a host in flight
// holds.
package sshsession

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/herd/runner"
	"github.com/cport/cport/loop"
)

// Config configures a Connector.
type Config struct {
	Loop *loop.Loop // where the connections live
	// Workers bounds the goroutines that wait on x/crypto/ssh; it must be
	// at least the runner's fan-out, or commands queue for a worker.
	Workers int
	User    string // default user, when a host names none; default $USER
	Port    int    // default port; default 22
	Auth    []ssh.AuthMethod
	// Hosts, if set, resolves each host through an ssh config file and
	// the command line (see HostConfig); Auth and HostKey are then unused.
	Hosts *HostConfig
	// HostKey checks host keys; see KnownHosts. Required: herd never
	// skips host key checking on its own.
	HostKey ssh.HostKeyCallback
	// Sudo runs commands through non-interactive sudo.
	Sudo bool
	// Kill says how a command is killed on its host when its run ends
	// early; the default is KillGroup. KillGuard runs each command under
	// a POSIX sh watchdog (see Guard), which needs /bin/sh on the host
	// and a login shell that can run a sh command line.
	Kill KillMode
	// MaxHandshakes bounds the connections being set up at once (TCP
	// connect, key exchange, authentication); default
	// DefaultMaxHandshakes. Connections beyond it wait their turn, which
	// does not count against their connect timeout (see runner.Queued).
	// A server listens with a bounded accept queue (OpenSSH: 128) and
	// MaxStartups: hundreds of connections opened together to one sshd
	// overflow them, and the overflow is reset or waits for TCP
	// retransmissions, while a bounded number each finish in turn.
	MaxHandshakes int
}

// DefaultMaxHandshakes is Config.MaxHandshakes's default.
const DefaultMaxHandshakes = 64

// Connector opens SSH sessions; it implements runner.Connector.
type Connector struct {
	cfg  Config
	pool *flow.Pool
	// dials resolves routes and runs handshakes, apart from pool: the
	// handshakes' cryptography grows a goroutine's stack to 8 KiB or more,
	// which a worker keeps (the collector halves it at most once a cycle)
	// when it then waits on a command's output, for as long as the command
	// runs. Handshakes are bounded (MaxHandshakes), and so are dials'
	// workers and their grown stacks, while pool's, as many as hosts in
	// flight, wait with small ones.
	dials *flow.Pool
	// kills runs the kills of commands whose runs ended early, apart from
	// pool: those commands' own waits hold pool's workers until the kill
	// ends them, so a kill queued behind them would wait forever.
	kills      *flow.Pool
	handshakes *runner.Handshakes // of cfg.Loop's flows
	closing    sync.WaitGroup     // connections or sessions being closed in the background
	// remote is the last command run and the line sent for it (through
	// sudo, guarded): every host of a run gets the same, and the guard's
	// script would otherwise cost each host in flight a copy of its own.
	remote atomic.Pointer[remoteLine]
}

// remoteLine is a command and the line sent for it.
type remoteLine struct {
	cmd, line string
	pidLines  int // pid lines the line prints before the command's output
}

// remoteCommand is remoteCommand for c's config, shared while cmd is.
func (c *Connector) remoteCommand(cmd string) (string, int) {
	if last := c.remote.Load(); last != nil && last.cmd == cmd {
		return last.line, last.pidLines
	}
	line, n := remoteCommand(cmd, c.cfg.Sudo, c.cfg.Kill)
	c.remote.Store(&remoteLine{cmd, line, n})
	return line, n
}

// Wait waits for the connections and sessions closing in the background
// (after a failed session start, or a run's end) to finish, for at most
// d. Call it before closing the loop, or the closes die with the loop's
// connections. (Kills are not among them: Run waits for its own.)
func (c *Connector) Wait(d time.Duration) {
	done := make(chan struct{})
	go func() {
		c.closing.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d):
	}
}

// background runs fn, which closes connections, on its own goroutine:
// x/crypto/ssh waits on channels there.
func (c *Connector) background(fn func()) {
	c.closing.Add(1)
	go func() {
		defer c.closing.Done()
		fn()
	}()
}

// New returns a Connector for cfg.
func New(cfg Config) (*Connector, error) {
	if cfg.Loop == nil || cfg.HostKey == nil && cfg.Hosts == nil {
		return nil, errors.New("sshsession: Config needs a Loop and a HostKey callback or Hosts")
	}
	if cfg.User == "" {
		cfg.User = os.Getenv("USER")
	}
	if cfg.Port == 0 {
		cfg.Port = 22
	}
	if cfg.MaxHandshakes <= 0 {
		cfg.MaxHandshakes = DefaultMaxHandshakes
	}
	if cfg.Kill > KillNone {
		return nil, fmt.Errorf("sshsession: unknown KillMode %d", cfg.Kill)
	}
	return &Connector{
		cfg:        cfg,
		pool:       flow.NewPool(max(cfg.Workers, 1)),
		dials:      flow.NewPool(cfg.MaxHandshakes),
		kills:      flow.NewPool(max(cfg.Workers, 1)),
		handshakes: runner.NewHandshakes(cfg.MaxHandshakes),
	}, nil
}

var _ runner.Queued = (*Connector)(nil)

// Turn waits for a handshake slot; it makes c a runner.Queued, so that
// runner.Connect gives the connect timeout to the handshake alone, not to
// the wait behind other hosts' handshakes. Connect with the returned
// context (or one derived from it) uses the slot; release gives it back.
func (c *Connector) Turn(ctx context.Context) (context.Context, func(), error) {
	return c.handshakes.Turn(ctx)
}

// SplitHost splits "user@host:port" into its parts; user and port are
// empty and zero when not given.
func SplitHost(name string) (user, host string, port int, err error) {
	host = name
	if i := strings.LastIndexByte(host, '@'); i >= 0 {
		user, host = host[:i], host[i+1:]
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		port, err = strconv.Atoi(host[i+1:])
		if err != nil || port <= 0 || port > 65535 {
			return "", "", 0, fmt.Errorf("%s: bad port %q", name, host[i+1:])
		}
		host = host[:i]
	}
	if host == "" {
		return "", "", 0, fmt.Errorf("%q: no host name", name)
	}
	return user, host, port, nil
}

// Connect dials name ("user@host:port"), through its jump hosts if the
// ssh config names any, and completes the SSH handshakes before ctx ends
// (or the host's ConnectTimeout); a host that stalls in the handshake is
// cut off then. Call it from a flow of the Config's loop; it waits there
// for a handshake slot first, unless ctx comes from Turn.
func (c *Connector) Connect(ctx context.Context, name string) (runner.Session, error) {
	// The route is worked out on a worker, not on the flow: resolving a
	// name through the ssh config takes more stack than all the rest of
	// the host's flow, whose stack would then stay twice the size (8 KiB
	// instead of 4) for as long as the host is in flight.
	var (
		chain   []endpoint
		timeout time.Duration
	)
	err := c.dials.Run(ctx, func() error {
		var err error
		chain, timeout, err = c.route(name)
		return err
	})
	if err != nil && ctx.Err() != nil {
		return nil, err
	}
	if err != nil {
		var ce *runner.ClassError
		if errors.As(err, &ce) {
			return nil, &runner.ClassError{Class: ce.Class, Err: err}
		}
		return nil, &runner.ClassError{Class: runner.Error, Err: err}
	}
	// The host's own timeout applies when it ends before the caller's.
	return c.handshakes.Connect(ctx, timeout, func(ctx context.Context) (runner.Session, error) {
		host, conn, err := c.dial(ctx, chain)
		if err != nil {
			return nil, err
		}
		return &Session{c: c, host: host, conn: conn}, nil
	})
}

// classify sorts handshake errors into the runner's classes.
func classify(err error) error {
	var keyErr *knownhosts.KeyError
	var revoked *knownhosts.RevokedError
	var ce *runner.ClassError
	switch {
	case errors.As(err, &ce):
		return err
	case errors.As(err, &keyErr) && len(keyErr.Want) == 0:
		return &runner.ClassError{Class: runner.HostKey, Err: fmt.Errorf("unknown host key (not in known_hosts; --accept-new records it): %w", err)}
	case errors.As(err, &keyErr):
		return &runner.ClassError{Class: runner.HostKey, Err: fmt.Errorf("HOST KEY CHANGED (possible man-in-the-middle; see %s:%d): %w",
			keyErr.Want[0].Filename, keyErr.Want[0].Line, err)}
	case errors.As(err, &revoked):
		return &runner.ClassError{Class: runner.HostKey, Err: err}
	case strings.Contains(err.Error(), "unable to authenticate"):
		return &runner.ClassError{Class: runner.AuthFailed, Err: err}
	case errors.Is(err, context.Canceled):
		return err
	}
	return err // a connection error: unreachable, retried
}

// Session is one SSH connection to a host.
type Session struct {
	c      *Connector
	host   *hostConn
	conn   *flow.Conn // the TCP connection under host (to its first jump host, if any)
	closed bool       // the connection is closing already, after a kill
}

// Run runs cmd in a new SSH session and returns its exit status. If ctx
// ends first, the remote command is killed as Config.Kill says, within
// KillWait, and the connection closes; a kill that fails makes the error
// a *runner.NotKilledError.
func (s *Session) Run(ctx context.Context, cmd string, stdout, stderr io.Writer) (int, error) {
	cmd, nPids := s.c.remoteCommand(cmd)
	var sess *execSession
	err := s.c.pool.Run(ctx, func() error {
		var err error
		sess, err = openSession(s.host)
		if err != nil && ctx.Err() == nil {
			// Opening a channel says only EOF when the connection is
			// gone; why it went is in Wait.
			err = fmt.Errorf("opening a session: %w (connection: %v)", err, s.host.Wait())
		}
		return err
	})
	if err != nil {
		s.closed = true
		s.c.background(func() { s.host.Close() }) // also ends a session open still in progress
		return -1, &runner.ClassError{Class: runner.Error, Err: err}
	}
	// With the guard, the session's stdin stays open while it lives: the
	// watchdog takes its end for the session's end (closed by the worker,
	// as it sends a message). Without, stdin is empty, as it always was.
	guarded := s.c.cfg.Kill == KillGuard
	var lines *pidLines
	if nPids > 0 {
		lines = newPidLines(nPids)
	}
	var exit exitStatus
	err = s.c.pool.Run(ctx, func() error {
		var err error
		exit, err = runCommand(sess, cmd, guarded, lines, stdout, stderr)
		if guarded {
			sess.closeStdin()
		}
		return err
	})
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		// Kill rather than hang up: without a terminal, sshd does not
		// signal a command whose connection goes away. The kill must go
		// out before the connection closes, so the kill closes it. The
		// run waits for it (at most KillWait, and even in a cancelled
		// flow), so that a command that could not be killed is reported
		// as such.
		s.closed = true
		if err == nil {
			err = ctx.Err()
		}
		if kerr := s.c.kills.RunToEnd(ctx, func() error { return s.kill(sess, lines) }); kerr != nil {
			err = &runner.NotKilledError{Cause: err, Why: kerr.Error()}
		}
		return -1, err
	}
	switch {
	case err != nil:
		return -1, &runner.ClassError{Class: runner.Error, Err: err}
	case exit.signal != "":
		if stderr != nil {
			fmt.Fprintf(stderr, "killed by signal %s\n", exit.signal)
		}
		return 128 + signalNumber(exit.signal), nil
	}
	return exit.code, nil
}

// Close closes the connection with a TCP reset. x/crypto/ssh cannot send
// SSH's disconnect message, and OpenSSH's sshd takes a connection that
// merely ends (a FIN) for a clean logout: its session process then runs
// its whole exit (freeing every channel and session, OpenSSL's and the
// C library's teardown), 10–20 ms of the host's CPU more than after
// a client's disconnect message or a reset, which end it at once, after
// the same session clean-up. Nothing is lost: the session is over (the
// exit status is in, or the run gave up on it) when Close comes.
func (s *Session) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	s.conn.Transport().Abort()
	s.c.background(func() { s.host.Close() }) // may wait on x/crypto/ssh's goroutines
	return nil
}

func signalNumber(sig string) int {
	switch ssh.Signal(sig) {
	case ssh.SIGHUP:
		return 1
	case ssh.SIGINT:
		return 2
	case ssh.SIGKILL:
		return 9
	case ssh.SIGSEGV:
		return 11
	case ssh.SIGPIPE:
		return 13
	case ssh.SIGTERM:
		return 15
	}
	return 0
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// KnownHosts returns a host key callback checking files (OpenSSH
// known_hosts format) strictly: an unknown or changed key fails. With
// acceptNew, an unknown host's key is appended to the first file, as
// OpenSSH's StrictHostKeyChecking=accept-new does; a changed key still fails.
func KnownHosts(acceptNew bool, files ...string) (ssh.HostKeyCallback, error) {
	if len(files) == 0 {
		return nil, errors.New("sshsession: no known_hosts file")
	}
	var existing []string
	for _, f := range files {
		if _, err := os.Stat(f); err == nil {
			existing = append(existing, f)
		} else if !os.IsNotExist(err) {
			return nil, err
		}
	}
	var mu sync.Mutex
	var check ssh.HostKeyCallback
	load := func() error {
		if len(existing) == 0 {
			check = func(string, net.Addr, ssh.PublicKey) error { return &knownhosts.KeyError{} }
			return nil
		}
		cb, err := knownhosts.New(existing...)
		check = cb
		return err
	}
	if err := load(); err != nil {
		return nil, err
	}
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		mu.Lock()
		defer mu.Unlock()
		err := check(hostname, remote, key)
		var keyErr *knownhosts.KeyError
		if !acceptNew || !errors.As(err, &keyErr) || len(keyErr.Want) != 0 {
			return err
		}
		if err := appendKnownHost(files[0], hostname, key); err != nil {
			return fmt.Errorf("recording the host key: %w", err)
		}
		if !contains(existing, files[0]) {
			existing = append(existing, files[0])
		}
		return load()
	}, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func appendKnownHost(file, hostname string, key ssh.PublicKey) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(f, knownhosts.Line([]string{knownhosts.Normalize(hostname)}, key))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// DefaultAuth returns the usual credentials: the agent at SSH_AUTH_SOCK,
// then keys (explicit ones, else ~/.ssh/id_ed25519, id_ecdsa, id_rsa).
// Unreadable default keys are skipped; an unreadable explicit key is an
// error. Passphrase-protected keys work through the agent only.
func DefaultAuth(keys []string) ([]ssh.AuthMethod, error) {
	var methods []ssh.AuthMethod
	if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" {
		if conn, err := net.Dial("unix", sock); err == nil {
			methods = append(methods, ssh.PublicKeysCallback(agent.NewClient(conn).Signers))
		}
	}
	explicit := len(keys) > 0
	if !explicit {
		home, _ := os.UserHomeDir()
		for _, k := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			keys = append(keys, filepath.Join(home, ".ssh", k))
		}
	}
	var signers []ssh.Signer
	for _, k := range keys {
		signer, err := LoadKey(k)
		if err != nil {
			if explicit {
				return nil, err
			}
			continue
		}
		signers = append(signers, signer)
	}
	if len(signers) > 0 {
		methods = append(methods, ssh.PublicKeys(signers...))
	}
	return methods, nil
}

// LoadKey reads a private key and, if KEY-cert.pub exists beside it, its
// certificate.
func LoadKey(path string) (ssh.Signer, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if certBytes, err := os.ReadFile(path + "-cert.pub"); err == nil {
		pub, _, _, _, err := ssh.ParseAuthorizedKey(certBytes)
		if cert, ok := pub.(*ssh.Certificate); err == nil && ok {
			if cs, err := ssh.NewCertSigner(cert, signer); err == nil {
				return cs, nil
			}
		}
	}
	return signer, nil
}
