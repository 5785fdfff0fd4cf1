package http

import (
	"context"

	"github.com/cport/cport/transport"
)

// What a busy connection may hold in memory. Past these a peer waits in
// the kernel and in TCP's window rather than in this process:
//   - readLimit is the unread input buffered while a request's body is
//     being read, so a fast uploader streams without a pause per packet;
//   - pipelineReadAhead is the unread input buffered beyond the request
//     being served: requests pipelined behind it;
//   - headReceive is the most one receive takes while no body is being
//     read, so a peer that pipelines overshoots the read-ahead by a little
//     and what it sends beyond waits in its socket, not here (a body is
//     received in whole buffers);
//   - pipelineAhead is how much of the answers may wait in the write
//     queue before the next pipelined request waits too (a client that
//     pipelines and reads nothing holds that much, and no flow): 2.5 KiB
//     holds a turn's 16 /plaintext answers (2.1 KB), and keeps such a
//     client under 8 KiB of the server's memory in all (7.3 KB; 8.5 KB
//     at 3 KiB);
//   - gatherMax is the largest body (by Content-Length) gathered before
//     the handler runs, so a peer that sends a head and part of a small
//     body holds a right-sized buffer, not a flow parked in Read
//     (nginx's client_body_buffer_size, 8 KiB on x86-64).
const (
	readLimit         = 64 << 10
	pipelineReadAhead = 2 << 10
	headReceive       = 2 << 10
	pipelineAhead     = 5 << 9
	gatherMax         = 8 << 10
)

// What a busy connection waits for, if anything (conn.wait).
const (
	waitNone = iota
	waitData // its handler is parked in a body Read
	waitBody // its small body, before a worker takes it again (no flow)
	waitSend // its answers to drain, before the next pipelined request (no flow)
)

// conn is one server connection: a transport.Protocol that buffers input
// only while a request is incomplete or being served. All its fields are
// touched on its loop only: by its callbacks and by the worker flow
// serving it.
//
// A server holds many of these, mostly idle, so the struct keeps only what
// an idle connection needs (96 bytes, TestConnStaysSmall): what serving
// takes (the request, the response, the events a parked handler waits on)
// is the worker's, times are offsets from one epoch rather than 24-byte
// time.Times, and the loop's sweep enforces timeouts, not a timer each.
type conn struct {
	ls *loopState // the server's unbound one until ConnectionMade
	t  transport.Transport
	w  *worker // the worker serving it, nil while idle or queued

	// buf[off:] is unread input; a request's head is buf[:headEnd]. The
	// offsets fit in 32 bits: readLimit and the head limit bound buf.
	buf []byte
	off int32
	// scan is where findHeadEnd resumes, relative to off; while the
	// connection gathers a body (waitBody), the buffered length at which
	// the request is whole.
	scan    int32
	headEnd int32
	idx     int32 // in ls.conns, or -1 while not there (newConn)

	busy    bool // queued for a worker, served by one, or waiting (wait)
	eof     bool
	lost    bool
	closing bool
	rpaused bool
	wpaused bool
	served  bool  // a request has begun: HTTP/2's preface may come only first
	wait    uint8 // waitNone, waitData, waitBody or waitSend

	idleSince mono // when it began waiting for a request
	// headStart is when the pending head's first byte came; while the
	// connection is busy it is when the serving flow last made progress
	// reading the body or sending the response, for the stall timeouts.
	headStart mono
}

// Request readiness, as nextRequest reports it.
const (
	reqNone    = iota // nothing buffered
	reqPartial        // part of a head buffered
	reqReady          // a whole head buffered, buf[:headEnd], not yet parsed
	reqFailed         // refused; the connection is closing
)

// newConn is a connection of ls's server, not yet tracked.
func newConn(ls *loopState) transport.Protocol { return &conn{ls: ls, idx: -1} }

func (c *conn) ConnectionMade(t transport.Transport) {
	c.t = t
	s := c.ls.s
	ls := s.loopState(t.Loop())
	if ls == nil { // a loop of another group than the first Listen's
		c.closing = true
		t.Close()
		return
	}
	c.ls = ls
	if s.negotiatedH2(t) {
		c.closing = true
		if err := s.serveH2(t, nil, nil); err != nil {
			_ = t.Close()
		}
		return
	}
	if !ls.track(c) {
		c.closing = true
		t.Close()
		return
	}
	transport.SetReceiveSize(t, headReceive)
	c.idleSince = c.now()
}

func (c *conn) DataReceived(data []byte) {
	if c.closing || c.lost {
		return
	}
	if c.buf == nil {
		c.buf = c.ls.getBuf()
	}
	if !c.busy && int(c.off) == len(c.buf) {
		c.headStart = c.now()
	}
	c.buf = append(c.buf, data...)
	if c.busy {
		switch c.wait {
		case waitData:
			c.headStart = c.now() // the body moves
			c.w.dataEv.Set()
		case waitBody:
			c.headStart = c.now()
			if len(c.buf) >= int(c.scan) {
				c.resumeServing()
			}
		}
		if !c.rpaused && len(c.buf)-int(c.off) > c.readAhead() {
			c.rpaused = true
			c.t.PauseReading()
		}
		return
	}
	c.startNext()
}

// EOFReceived keeps the connection open while there is a request to
// answer (a client may half-close after its last request).
func (c *conn) EOFReceived() bool {
	c.eof = true
	switch c.wait {
	case waitData:
		c.w.dataEv.Set()
	case waitBody: // it will not come whole: the handler's Read says so
		c.resumeServing()
	}
	if c.busy {
		c.clientGone()
		return true
	}
	c.closing = true
	return false
}

func (c *conn) ConnectionLost(error) {
	c.lost, c.closing = true, true
	if c.ls.l == nil { // never bound to a loop
		return
	}
	if c.w != nil {
		c.w.dataEv.Set()
		c.w.writeEv.Set()
		c.clientGone()
	} else if c.wait == waitBody || c.wait == waitSend { // no worker to end it
		c.busy, c.wait = false, waitNone
	}
	if !c.busy {
		c.releaseBuf()
	}
	c.ls.untrack(c)
}

// clientGone ends the context of the request being served for c, if any
// (a worker that served c before may serve another connection now).
func (c *conn) clientGone() {
	if c.busy && c.w != nil && c.w.req.c == c {
		c.w.req.done(ErrClientGone)
	}
}

func (c *conn) PauseWriting() {
	c.wpaused = true
	if c.busy {
		c.headStart = c.now() // the send stall, if it lasts, counts from here
	}
}

func (c *conn) ResumeWriting() {
	c.wpaused = false
	if c.wait == waitSend {
		c.t.SetWriteBufferLimits(0, -1) // back to the transport's defaults
		c.resumeServing()
		return
	}
	if c.w != nil {
		c.w.writeEv.Set()
	}
}

// resumeServing queues a connection that waited with no flow (waitBody,
// waitSend) for a worker, which parses its ready head again. One whose
// answers had to drain first is a pipeline: it goes after the
// connections with one request (runq.go).
func (c *conn) resumeServing() {
	pipeline := c.wait == waitSend
	c.wait, c.scan = waitNone, 0
	if pipeline {
		c.ls.requeue(c)
	} else {
		c.ls.dispatch(c)
	}
}

// readAhead is how much unread input the busy connection buffers before
// it stops reading.
func (c *conn) readAhead() int {
	if c.wait == waitBody || c.w != nil && !c.w.req.bodyDone() {
		return readLimit
	}
	return pipelineReadAhead
}

// startNext looks for the next request of a connection no worker serves.
func (c *conn) startNext() {
	switch c.nextRequest() {
	case reqReady:
		if c.isH2Preface() {
			c.startH2C()
			return
		}
		c.busy = true
		c.ls.dispatch(c)
	}
}

// nextRequest looks for the next request head in the buffer; the worker
// that serves it parses it (begin). The previous request is over, so its
// head's bytes may be reused: the unread input moves to the front of the
// buffer.
func (c *conn) nextRequest() int {
	if c.off > 0 {
		n := copy(c.buf, c.buf[c.off:])
		c.buf, c.off = c.buf[:n], 0
	}
	if c.scan == 0 {
		if k := skipEmptyLines(c.buf); k > 0 {
			n := copy(c.buf, c.buf[k:])
			c.buf = c.buf[:n]
		}
	}
	if c.rpaused && len(c.buf) < c.readAhead()/2 {
		c.rpaused = false
		c.t.ResumeReading()
	}
	if len(c.buf) == 0 {
		c.releaseBuf()
		return reqNone
	}
	if cap(c.buf) > 2*bufSize && len(c.buf) <= bufSize/2 {
		// A long pipeline or a large upload grew the buffer; what is left
		// fits a pooled one.
		c.buf = append(c.ls.getBuf(), c.buf...)
	}
	lim := &c.ls.s.lim
	end, next, err := findHeadEnd(c.buf, int(c.scan))
	if err == nil && (end > lim.MaxHeaderBytes || end == 0 && len(c.buf) > lim.MaxHeaderBytes) {
		err = errHeadTooLarge
	}
	if err == nil && end == 0 {
		c.scan = int32(next)
		if c.rpaused {
			// A head longer than half the read-ahead is still coming:
			// the rest waits in the socket for us, and its time there
			// is ours, not the peer's.
			c.rpaused = false
			c.t.ResumeReading()
			c.headStart = c.now()
		}
		return reqPartial
	}
	if err != nil {
		c.fail(err)
		return reqFailed
	}
	c.scan, c.headEnd = 0, int32(end)
	return reqReady
}

// begin parses the head nextRequest found into w's request; false if it
// is refused (and the connection closing).
func (c *conn) begin(w *worker) bool {
	if err := parseHead(c.buf[:c.headEnd], &w.req, &c.ls.s.lim); err != nil {
		c.fail(err)
		return false
	}
	c.off = c.headEnd
	if !w.req.bodyDone() {
		transport.SetReceiveSize(c.t, 0) // serveOne caps it again
	}
	return true
}

// consume marks n buffered bytes read and resumes reading once the
// buffer has room again.
func (c *conn) consume(n int) {
	c.off += int32(n)
	if c.rpaused && len(c.buf)-int(c.off) < c.readAhead()/2 {
		c.rpaused = false
		c.t.ResumeReading()
	}
}

// waitData parks the serving flow until more input arrives. The body
// bytes already read are dropped first (the head stays, since the
// request's slices alias it), so a long upload reuses the same space.
func (c *conn) waitData(ctx context.Context) error {
	if c.off > c.headEnd {
		n := copy(c.buf[c.headEnd:], c.buf[c.off:])
		c.buf, c.off = c.buf[:int(c.headEnd)+n], c.headEnd
	}
	c.wait = waitData
	c.headStart = c.now()
	c.w.dataEv.Clear()
	err := c.w.dataEv.Wait(ctx)
	c.wait = waitNone
	return err
}

// waitWritable parks the serving flow while the transport's write buffer
// is above its high watermark.
func (c *conn) waitWritable(ctx context.Context) error {
	for c.wpaused && !c.lost {
		c.w.writeEv.Clear()
		if err := c.w.writeEv.Wait(ctx); err != nil {
			return err
		}
	}
	return nil
}

// fail answers a refused request with e's status and closes.
func (c *conn) fail(e *statusError) {
	c.closing = true
	b := appendStatusLine(c.ls.scratch[:0], e.code)
	b = append(b, "Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: "...)
	b = appendInt(b, int64(len(e.msg)+1))
	b = append(b, "\r\n\r\n"...)
	b = append(b, e.msg...)
	b = append(b, '\n')
	c.ls.scratch = b
	_ = c.t.Write(b)
	_ = c.t.Close()
}

// fitBuf moves the buffered input to a buffer of capacity n when that
// saves a quarter or more of the one it is in: a connection that waits on a slow
// peer keeps what it needs, not a pooled buffer.
func (c *conn) fitBuf(n int) {
	if n > cap(c.buf)*3/4 {
		return
	}
	fit := make([]byte, len(c.buf), max(n, 64))
	copy(fit, c.buf)
	c.ls.putBuf(c.buf)
	c.buf = fit
}

func (c *conn) releaseBuf() {
	if c.buf != nil && int(c.off) == len(c.buf) {
		c.ls.putBuf(c.buf)
		c.buf, c.off, c.scan = nil, 0, 0
	}
}

// serve runs in worker w's flow: it serves c's ready request and those
// pipelined behind it, then leaves c waiting for input with no flow.
func (c *conn) serve(ctx context.Context, w *worker) {
	c.w = w
	w.req.c, w.resp.c = c, c
	defer func() { c.w = nil }()
	if c.closing || c.lost || !c.begin(w) { // lost or refused while queued
		c.busy = false
		c.releaseBuf()
		return
	}
	for turn := 1; ; turn++ {
		if c.gatherBody(w) {
			return
		}
		c.served = true
		if c.upgradeH2C(w) {
			c.busy = false
			return
		}
		c.serveOne(ctx)
		if c.closing || c.lost {
			c.busy = false
			c.releaseBuf()
			return
		}
		switch c.nextRequest() {
		case reqReady:
			if c.holdPipeline() {
				return
			}
			if turn >= pipelineTurn && c.ls.queued() > 0 {
				// Others wait: this pipeline goes on after them.
				c.ls.requeue(c)
				return
			}
			if !c.begin(w) {
				c.busy = false
				return
			}
			continue
		case reqFailed:
			c.busy = false
			return
		}
		c.busy = false
		if c.eof || c.ls.s.shutting.Load() {
			c.closing = true
			_ = c.t.Close()
			return
		}
		c.idleSince = c.now()
		c.headStart = c.idleSince
		return
	}
}

// gatherBody leaves the request w has begun to wait, with no flow, for
// the rest of its body when that body is small (gatherMax) and not all
// here; the connection is dispatched again once it is (DataReceived), or
// when the peer ends its side (the handler then reads a truncated body).
// A request that asked for 100-continue is served at once: its client
// sends the body only after the handler reads.
func (c *conn) gatherBody(w *worker) bool {
	r := &w.req
	need := int64(c.off) + r.remaining // c.off is the head's end
	if r.chunked || r.expectContinue || r.remaining == 0 || r.remaining > gatherMax ||
		c.eof || int64(len(c.buf)) >= need {
		return false
	}
	c.off, c.scan, c.wait = 0, int32(need), waitBody
	c.headStart = c.now()
	c.fitBuf(int(need))
	return true
}

// holdPipeline leaves the next pipelined request to wait, with no flow,
// while the answers before it have not left: a client that pipelines and
// reads nothing then costs the queue up to pipelineAhead, and reading
// pauses with it. ResumeWriting dispatches the connection again.
func (c *conn) holdPipeline() bool {
	if !c.wpaused && c.t.WriteBufferSize() > pipelineAhead {
		c.t.SetWriteBufferLimits(pipelineAhead, pipelineAhead/4) // pauses now
	}
	if !c.wpaused {
		return false
	}
	c.wait = waitSend
	c.fitBuf(len(c.buf)) // the pipelined input may wait long; not its growth's slack
	return true
}

// serveOne runs the handler for c.req and completes the response.
func (c *conn) serveOne(ctx context.Context) {
	r, w := &c.w.req, &c.w.resp
	r.ctx = ctx
	w.reset(r)
	body := !r.bodyDone()
	if !c.callHandler(w, r) {
		return
	}
	w.finish(ctx)
	r.done(context.Canceled)
	if body {
		transport.SetReceiveSize(c.t, headReceive) // begin lifted it
	}
	if w.closeAfter {
		c.closing = true
		_ = c.t.Close()
	}
}

// callHandler runs the handler and turns a panic into a 500 (or an abort
// if the response had begun). It reports whether the response may still
// be completed.
func (c *conn) callHandler(w *ResponseWriter, r *Request) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			c.ls.s.logPanic(c.t.RemoteAddr(), v)
			if w.hijacked {
				ok = false // the connection is the handler's now
				return
			}
			if w.started {
				c.closing = true
				c.t.Abort()
				ok = false
				return
			}
			w.reset(r)
			w.WriteHeader(500)
			w.closeAfter = true
			ok = true
		}
	}()
	c.ls.s.Handler.ServeHTTP(w, r)
	return true
}

// deadline is when the connection times out if nothing happens: the
// read-header timeout while part of a head is buffered, the idle timeout
// otherwise. The loop's sweep (sweep.go) checks it.
func (c *conn) deadline() mono {
	if int(c.off) < len(c.buf) {
		return c.headStart.add(c.ls.s.lim.ReadHeaderTimeout)
	}
	return c.idleSince.add(c.ls.s.lim.IdleTimeout)
}

// now is the loop's time as a mono.
func (c *conn) now() mono { return monoOf(c.ls.l.Now()) }

// expire closes the connection if it is waiting past its deadline. A
// busy one is reset if its handler has waited too long for the body, or
// its response has been stalled above the watermark too long.
func (c *conn) expire(now mono) {
	if c.closing || c.lost {
		return
	}
	if c.busy {
		lim := &c.ls.s.lim
		if c.wait == waitBody && now >= c.headStart.add(lim.BodyReadTimeout) {
			c.busy, c.wait = false, waitNone
			c.fail(errBodyTimeout)
			return
		}
		if c.wait == waitData && now >= c.headStart.add(lim.BodyReadTimeout) ||
			c.wpaused && now >= c.headStart.add(lim.SendTimeout) {
			c.closing = true
			c.t.Abort()
		}
		return
	}
	if now < c.deadline() {
		if int(c.off) < len(c.buf) {
			// Part of a head has waited a sweep or more: a slow sender
			// keeps what it sent, not a pooled buffer. (Not on arrival:
			// a head that spans two packets would pay a copy each time.)
			c.fitBuf(2 * len(c.buf))
		}
		return
	}
	if int(c.off) < len(c.buf) {
		c.fail(errHeaderTimeout)
		return
	}
	c.closing = true
	_ = c.t.Close()
}

// shutdownIdle closes the connection if no request is in progress; a
// busy one closes after its response (serve checks Server.shutting).
func (c *conn) shutdownIdle() {
	if !c.busy && !c.closing && !c.lost {
		c.closing = true
		_ = c.t.Close()
	}
}
