package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cport/cport/flow"
)

// conn is one controller's connection, owned by the flows of its loop:
// no locks, except the flow.Mutex that keeps messages whole.
type conn struct {
	s    *Server
	tc   *flow.TLSConn
	f    *flow.Flow // the reader
	peer string     // the controller's name and address, for the log

	accepted time.Time       // the handshake's deadline counts from here
	slot     *flow.Semaphore // the handshake slot held, if any

	ctx    context.Context // ends when the connection is lost: kills every run
	cancel context.CancelFunc

	wmu      flow.Mutex
	broken   bool // a write failed: the controller is gone
	frames   bool // output goes as frames (ProtocolFrames), not notifications
	jobs     map[string]context.CancelFunc
	running  int
	handlers flow.WaitGroup // message flows still going
}

func newConn(s *Server, tc *flow.TLSConn, f *flow.Flow) *conn {
	c := &conn{s: s, tc: tc, f: f, peer: tc.RemoteAddr().String(), jobs: map[string]context.CancelFunc{}, accepted: time.Now()}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c
}

// connKey carries the conn in the contexts of its methods.
type connKey struct{}

func connOf(ctx context.Context) *conn { c, _ := ctx.Value(connKey{}).(*conn); return c }

// serve handshakes, then reads messages until the connection ends.
func (c *conn) serve() {
	log := c.s.cfg.Logger
	defer c.tc.Close()
	s := c.s
	s.handshaking.Store(c.tc.NetConn(), c)
	err := c.tc.Handshake()
	s.handshaking.Delete(c.tc.NetConn())
	if c.slot != nil {
		c.slot.Release()
		c.slot = nil
	}
	if err != nil {
		if refused(err) {
			log.Warn("herd agent: refused connection", "from", c.peer, "reason", refusal(err, c.s.cfg.HandshakeTimeout))
		} else {
			log.Info("herd agent: handshake failed", "from", c.peer, "reason", refusal(err, c.s.cfg.HandshakeTimeout))
		}
		return
	}
	state := c.tc.ConnectionState()
	c.peer = fmt.Sprintf("%s@%s", state.PeerCertificates[0].Subject.CommonName, c.peer)
	log.Debug("herd agent: controller connected", "controller", c.peer)

	err = c.read()
	// The controller is gone (or spoke out of turn): its commands die
	// with the connection.
	c.cancel()
	c.handlers.Wait(c.f.Context())
	switch {
	case err == nil || errors.Is(err, io.EOF):
		log.Debug("herd agent: controller disconnected", "controller", c.peer)
	default:
		log.Info("herd agent: connection ended", "controller", c.peer, "reason", err.Error())
	}
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// read takes messages off the connection, each to a flow of its own, so
// that a cancel gets through while runs go on.
func (c *conn) read() error {
	// Requests are a few hundred bytes, and crypto/tls holds a whole
	// record anyway: a small buffer, kept by every connection however
	// long it is idle; a longer request is gathered in pieces.
	br := bufio.NewReaderSize(c.tc, readBufferSize)
	for {
		// An idle controller is let go; one with commands running may be
		// silent as long as they run.
		var dl time.Time
		if c.running == 0 {
			dl = time.Now().Add(c.s.cfg.IdleTimeout)
		}
		if err := c.tc.SetReadDeadline(dl); err != nil {
			return err
		}
		line, err := readLine(br, c.s.cfg.MaxMessage)
		if errors.Is(err, errTooLarge) {
			c.send(c.f.Context(), []byte(fmt.Sprintf(`{"jsonrpc":"2.0","error":{"code":-32600,"message":"invalid request: message over %d bytes"},"id":null}`+"\n", c.s.cfg.MaxMessage)))
			return err
		}
		if len(line) > 0 {
			c.handle(line)
		}
		if err != nil {
			if !isTimeout(err) {
				return err
			}
			if c.running == 0 {
				return fmt.Errorf("idle for %v", c.s.cfg.IdleTimeout)
			}
			// The deadline was set before a run began: a controller
			// waiting for its command is not idle.
		}
	}
}

// handle answers one message in a flow of its own.
func (c *conn) handle(msg []byte) {
	c.handlers.Add(1)
	flow.Go(c.f.Loop(), func(f *flow.Flow) {
		defer c.handlers.Done()
		ctx := context.WithValue(f.Context(), connKey{}, c)
		if reply := c.s.rpc.Handle(ctx, msg); reply != nil {
			c.send(f.Context(), append(reply, '\n'))
		}
	})
}

// send writes one message (a JSON line with its newline, or a frame)
// whole; after a failed write it drops them.
func (c *conn) send(ctx context.Context, msg []byte) {
	if c.wmu.Lock(ctx) != nil {
		return
	}
	defer c.wmu.Unlock()
	if c.broken {
		return
	}
	if _, err := c.tc.Write(msg); err != nil {
		c.broken = true
		c.tc.Close() // ends the reader, which kills the runs
	}
}

// notify sends a notification.
func (c *conn) notify(ctx context.Context, method string, params any) {
	b, err := json.Marshal(struct {
		JSONRPC string `json:"jsonrpc"`
		Method  string `json:"method"`
		Params  any    `json:"params"`
	}{"2.0", method, params})
	if err != nil {
		return
	}
	c.send(ctx, append(b, '\n'))
}

// readBufferSize is a connection's read buffer.
const readBufferSize = 1 << 10

var errTooLarge = errors.New("message too large")

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
			return msg, err
		}
	}
}
