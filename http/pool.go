package http

import (
	"net"
	"sync"

	"github.com/cport/cport/loop"
)

// poolKey names a pool of idle connections: one host's connections that
// live on one loop. A flow takes connections of its own loop, so its
// reads and writes run inline instead of hopping to another loop.
type poolKey struct {
	l    *loop.Loop
	host string // host:port
	tls  bool   // https
}

// clientConn is one connection of the client's pool. It is used by one
// request at a time; buf[off:] holds bytes read past the last response.
type clientConn struct {
	key  poolKey
	conn net.Conn // a *flow.Conn, or a *flow.TLSConn for https
	buf  []byte
	off  int
	used bool // has served a request: a failure may be a stale keep-alive
}

// pool keeps idle keep-alive connections per host (scheme://host:port).
type pool struct {
	mu      sync.Mutex
	idle    map[poolKey][]*clientConn
	maxIdle int
	closed  bool
}

// get returns an idle connection to key, newest first (the least likely
// to have been closed by the server's idle timeout), or nil.
func (p *pool) get(key poolKey) *clientConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	list := p.idle[key]
	if len(list) == 0 {
		return nil
	}
	cc := list[len(list)-1]
	p.idle[key] = list[:len(list)-1]
	return cc
}

// put keeps cc for reuse, or closes it when the host has enough.
func (p *pool) put(cc *clientConn) {
	p.mu.Lock()
	if !p.closed && len(p.idle[cc.key]) < p.maxIdle {
		if p.idle == nil {
			p.idle = make(map[poolKey][]*clientConn)
		}
		p.idle[cc.key] = append(p.idle[cc.key], cc)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	cc.conn.Close()
}

// closeIdle closes every idle connection.
func (p *pool) closeIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, list := range idle {
		for _, cc := range list {
			cc.conn.Close()
		}
	}
}
