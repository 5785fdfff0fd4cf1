package sshsession

import (
	"sync"

	"golang.org/x/crypto/ssh"
)

// Each goroutine a host holds costs its stack (2 to 8 KiB, grown by the
// deepest call it ever made) and its descriptor, for as long as the host
// is in flight; at a fan-out of hundreds that is most of herd's memory.
// x/crypto/ssh starts about ten per connection and session. Some are its
// own (reading packets, key exchange, the channel multiplexer) and stay;
// the ones that wait on herd's behalf are replaced by one per
// connection, hostConn's.
//
// ssh.NewClient would start three: one serving the server's global
// requests, one its channel opens, one waiting for the connection's end
// to close port forwards herd never opens. ssh.Client.NewSession one
// more per session, reading the channel's requests for the exit status.
// A hostConn uses the ssh.Conn as is and serves all four with a single
// goroutine; an ssh.Client is made only for what needs one (jump hosts'
// forwarded connections, SFTP).

// hostConn is an SSH connection whose server's global requests, channel
// opens and session requests one goroutine serves (serve).
type hostConn struct {
	ssh.Conn
	register chan *execSession // hands serve a session's requests

	mu     sync.Mutex
	busy   bool // serve has a session, or one is on its way through register
	served bool // serve has ended: the connection is over
}

// newHostConn returns c (made by ssh.NewClientConn, with its chans and
// reqs), served by a goroutine of its own until the connection ends.
func newHostConn(c ssh.Conn, chans <-chan ssh.NewChannel, reqs <-chan *ssh.Request) *hostConn {
	h := &hostConn{Conn: c, register: make(chan *execSession)}
	go h.serve(chans, reqs)
	return h
}

// serveSession has s's channel requests read as they come: by serve, if
// it has no session already; otherwise (a second session, opened to kill
// the first one's command) by a goroutine of s's own. They must be read
// as they come: x/crypto/ssh's multiplexer waits, with every channel of
// the connection, while a channel's queue of requests is full.
func (h *hostConn) serveSession(s *execSession) {
	h.mu.Lock()
	mine := !h.busy && !h.served
	if mine {
		h.busy = true
	}
	h.mu.Unlock()
	if mine {
		h.register <- s
		return
	}
	go s.serve()
}

// serve turns down the server's channel opens and global requests (the
// keepalives OpenSSH's ClientAliveInterval sends, say), as ssh.Client
// does, and reads the requests of one session at a time, until the
// connection ends, which closes all three.
func (h *hostConn) serve(chans <-chan ssh.NewChannel, reqs <-chan *ssh.Request) {
	var (
		sess     *execSession
		sessReqs <-chan *ssh.Request
	)
	for chans != nil || reqs != nil || sess != nil {
		register := h.register
		if sess != nil {
			register = nil
		}
		select {
		case nc, ok := <-chans:
			if !ok {
				chans = nil
				continue
			}
			nc.Reject(ssh.UnknownChannelType, "unknown channel type: "+nc.ChannelType())
		case r, ok := <-reqs:
			if !ok {
				reqs = nil
				continue
			}
			r.Reply(false, nil) // a no to a request wanting a reply; nothing otherwise
		case s := <-register:
			sess, sessReqs = s, s.reqs
		case r, ok := <-sessReqs:
			if !ok {
				sess.end()
				sess, sessReqs = nil, nil
				h.mu.Lock()
				h.busy = false
				h.mu.Unlock()
				continue
			}
			sess.request(r)
		}
	}
	// The connection is over, and every channel with it; a session on its
	// way through register has its (closed) requests read here.
	h.mu.Lock()
	h.served = true
	pending := h.busy
	h.mu.Unlock()
	if pending {
		(<-h.register).serve()
	}
}

// client returns an ssh.Client on h, for what needs one. Its goroutines
// serving the server's requests end at once: h's serve does that work.
func (h *hostConn) client() *ssh.Client {
	return ssh.NewClient(h, noChannels, noRequests)
}

// noChannels and noRequests are closed: ranging over them ends at once.
var (
	noChannels = func() chan ssh.NewChannel { c := make(chan ssh.NewChannel); close(c); return c }()
	noRequests = func() chan *ssh.Request { c := make(chan *ssh.Request); close(c); return c }()
)
