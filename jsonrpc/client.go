package jsonrpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// ErrClientClosed: the client was closed, or its stream ended, before the
// reply came.
var ErrClientClosed = errors.New("jsonrpc: client closed")

// Client calls a JSON-RPC server over a stream of newline-delimited
// messages. Any number of goroutines may call at once: requests go out
// as they are made, and one reader goroutine, started with the first
// call, hands each reply to its caller by id, so replies may come in any
// order. It blocks its callers (on a flow.Conn from a goroutine, the
// conn's loop does the I/O). Close it to stop the reader.
type Client struct {
	rw io.ReadWriter

	wmu sync.Mutex // one message at a time on the stream

	mu      sync.Mutex
	next    int64
	pending map[int64]chan *clientResponse
	reading bool
	err     error // why the stream ended; set once
}

// NewClient returns a client speaking over rw.
func NewClient(rw io.ReadWriter) *Client {
	return &Client{rw: rw, pending: map[int64]chan *clientResponse{}}
}

type clientRequest struct {
	JSONRPC string `json:"jsonrpc"`
	Method  string `json:"method"`
	Params  any    `json:"params,omitempty"`
	ID      *int64 `json:"id,omitempty"`
}

type clientResponse struct {
	Result json.RawMessage `json:"result"`
	Error  *Error          `json:"error"`
	ID     json.RawMessage `json:"id"`
}

// BatchCall is one entry of a batch: a call (its reply decoded into
// Result, or its failure in Err) or, with Notify, a notification.
type BatchCall struct {
	Method string
	Params any
	Result any // a pointer, or nil to drop the result
	Notify bool
	Err    error // set by Batch: the server's *Error, or a decoding error
}

// Call calls method with params and decodes the result into result (a
// pointer, or nil to drop it). A server error comes back as *Error.
// ctx's end abandons the call (its reply, if it comes, is dropped); the
// stream stays usable.
func (c *Client) Call(ctx context.Context, method string, params, result any) error {
	id, ch, err := c.expect()
	if err != nil {
		return err
	}
	if err := c.write(ctx, clientRequest{"2.0", method, params, &id}); err != nil {
		c.abandon(id)
		return err
	}
	resp, err := c.await(ctx, id, ch)
	if err != nil {
		return err
	}
	return decodeResult(resp, result)
}

// Notify sends a notification: no reply comes.
func (c *Client) Notify(ctx context.Context, method string, params any) error {
	c.mu.Lock()
	err := c.err
	c.mu.Unlock()
	if err != nil {
		return err
	}
	return c.write(ctx, clientRequest{JSONRPC: "2.0", Method: method, Params: params})
}

// Batch sends calls as one batch and waits for every reply; each entry's
// outcome is in its Err. The error Batch returns is the stream's or
// ctx's, or the server's refusal of the whole batch (a *Error, also set
// on every call entry).
func (c *Client) Batch(ctx context.Context, calls []BatchCall) error {
	if len(calls) == 0 {
		return errors.New("jsonrpc: empty batch")
	}
	reqs := make([]clientRequest, len(calls))
	ids := make([]int64, len(calls))
	chans := make([]chan *clientResponse, len(calls))
	for i := range calls {
		reqs[i] = clientRequest{JSONRPC: "2.0", Method: calls[i].Method, Params: calls[i].Params}
		if calls[i].Notify {
			continue
		}
		id, ch, err := c.expect()
		if err != nil {
			c.abandonAll(ids[:i], calls[:i])
			return err
		}
		ids[i], chans[i] = id, ch
		reqs[i].ID = &ids[i]
	}
	if err := c.write(ctx, reqs); err != nil {
		c.abandonAll(ids, calls)
		return err
	}
	for i := range calls {
		if calls[i].Notify {
			continue
		}
		resp, err := c.await(ctx, ids[i], chans[i])
		if err != nil {
			c.abandonAll(ids[i+1:], calls[i+1:])
			return err
		}
		if len(resp.ID) == 0 || string(resp.ID) == "null" { // the whole batch refused
			c.abandonAll(ids[i+1:], calls[i+1:])
			for j := range calls {
				if !calls[j].Notify {
					calls[j].Err = resp.Error
				}
			}
			return resp.Error
		}
		calls[i].Err = decodeResult(resp, calls[i].Result)
	}
	return nil
}

// Close closes the stream (when it is an io.Closer), which ends the
// reader; calls waiting fail with ErrClientClosed.
func (c *Client) Close() error {
	c.fail(ErrClientClosed)
	if cl, ok := c.rw.(io.Closer); ok {
		return cl.Close()
	}
	return nil
}

// expect takes the next id and the channel its reply will come on, and
// makes sure a reader runs.
func (c *Client) expect() (int64, chan *clientResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, nil, c.err
	}
	c.next++
	ch := make(chan *clientResponse, 1)
	c.pending[c.next] = ch
	if !c.reading {
		c.reading = true
		go c.read()
	}
	return c.next, ch, nil
}

func (c *Client) await(ctx context.Context, id int64, ch chan *clientResponse) (*clientResponse, error) {
	select {
	case resp, ok := <-ch:
		if !ok {
			c.mu.Lock()
			err := c.err
			c.mu.Unlock()
			return nil, err
		}
		return resp, nil
	case <-ctx.Done():
		c.abandon(id)
		return nil, ctx.Err()
	}
}

func (c *Client) abandon(id int64) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

func (c *Client) abandonAll(ids []int64, calls []BatchCall) {
	for i, id := range ids {
		if !calls[i].Notify {
			c.abandon(id)
		}
	}
}

// write sends one message. ctx bounds a write the peer does not take
// when the stream is a net.Conn (its write deadline); a write cut that
// way leaves a partial message, so the stream is failed.
func (c *Client) write(ctx context.Context, msg any) error {
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if conn, ok := c.rw.(net.Conn); ok {
		if dl, ok := ctx.Deadline(); ok {
			conn.SetWriteDeadline(dl)
		}
		stop := context.AfterFunc(ctx, func() { conn.SetWriteDeadline(time.Unix(1, 0)) })
		defer func() {
			stop()
			conn.SetWriteDeadline(time.Time{})
		}()
	}
	if _, err := c.rw.Write(append(b, '\n')); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		c.fail(fmt.Errorf("jsonrpc: write: %w", err))
		return err
	}
	return nil
}

// read hands replies to their callers until the stream ends.
func (c *Client) read() {
	lines := newLineReader(c.rw)
	for {
		line, err := readLine(lines, MaxMessage, 0)
		if len(bytes.TrimSpace(line)) > 0 {
			if derr := c.dispatch(line); derr != nil {
				c.fail(derr)
				return
			}
		}
		if err != nil {
			if err == io.EOF {
				err = ErrClientClosed
			} else {
				err = fmt.Errorf("jsonrpc: read: %w", err)
			}
			c.fail(err)
			return
		}
	}
}

// dispatch delivers one reply line: a response, or a batch's array of
// them. A reply to an abandoned call is dropped.
func (c *Client) dispatch(line []byte) error {
	var resps []*clientResponse
	if trimmed := bytes.TrimSpace(line); trimmed[0] == '[' {
		if err := json.Unmarshal(trimmed, &resps); err != nil {
			return fmt.Errorf("jsonrpc: bad reply: %w", err)
		}
	} else {
		var r clientResponse
		if err := json.Unmarshal(trimmed, &r); err != nil {
			return fmt.Errorf("jsonrpc: bad reply: %w", err)
		}
		resps = []*clientResponse{&r}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range resps {
		if len(r.ID) == 0 || string(r.ID) == "null" {
			// An error about a message the server could not read (a
			// refused batch, a parse error): it answers the oldest call
			// waiting, which is the one it was about when calls are made
			// one at a time.
			for id, ch := range c.pending {
				if oldest(c.pending, id) {
					ch <- r
					delete(c.pending, id)
					break
				}
			}
			continue
		}
		id, err := strconv.ParseInt(string(r.ID), 10, 64)
		if err != nil {
			continue // not an id this client sent
		}
		if ch, ok := c.pending[id]; ok {
			ch <- r
			delete(c.pending, id)
		}
	}
	return nil
}

// oldest reports whether id is the smallest key of pending.
func oldest(pending map[int64]chan *clientResponse, id int64) bool {
	for k := range pending {
		if k < id {
			return false
		}
	}
	return true
}

// fail ends the client with err: waiting calls get it.
func (c *Client) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
	}
	for id, ch := range c.pending {
		close(ch)
		delete(c.pending, id)
	}
}

func decodeResult(resp *clientResponse, result any) error {
	if resp.Error != nil {
		return resp.Error
	}
	if result == nil {
		return nil
	}
	return json.Unmarshal(resp.Result, result)
}
