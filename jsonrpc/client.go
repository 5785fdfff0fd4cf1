package jsonrpc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"strconv"
	"sync"
	"time"
)

// Client calls a JSON-RPC server over a stream of newline-delimited
// messages. Calls are serialized: one request is in flight at a time, so
// replies match requests in order. It is for goroutines: it blocks the
// caller (on a flow.Conn from a goroutine, the conn's loop does the I/O).
type Client struct {
	mu   sync.Mutex
	rw   io.ReadWriter
	br   *bufio.Reader
	next int64
}

// NewClient returns a client speaking over rw.
func NewClient(rw io.ReadWriter) *Client {
	return &Client{rw: rw, br: bufio.NewReader(rw)}
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

// Call calls method with params and decodes the result into result (a
// pointer, or nil to drop it). A server error comes back as *Error. When
// rw is a net.Conn, ctx's deadline and cancellation end a blocked call
// (and leave the stream unusable, as its reply may still come).
func (c *Client) Call(ctx context.Context, method string, params, result any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.next++
	id := c.next
	stop := c.watch(ctx)
	defer stop()
	if err := c.send(clientRequest{"2.0", method, params, &id}); err != nil {
		return c.ctxErr(ctx, err)
	}
	for {
		line, err := readLine(c.br, MaxMessage)
		if err != nil {
			return c.ctxErr(ctx, err)
		}
		var resp clientResponse
		if err := json.Unmarshal(line, &resp); err != nil {
			return fmt.Errorf("jsonrpc: bad reply: %w", err)
		}
		if string(resp.ID) != strconv.FormatInt(id, 10) {
			continue // a reply to an earlier, abandoned call
		}
		return decodeResult(&resp, result)
	}
}

// Notify sends a notification: no reply comes.
func (c *Client) Notify(ctx context.Context, method string, params any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	stop := c.watch(ctx)
	defer stop()
	return c.ctxErr(ctx, c.send(clientRequest{JSONRPC: "2.0", Method: method, Params: params}))
}

func (c *Client) send(req clientRequest) error {
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	_, err = c.rw.Write(append(b, '\n'))
	return err
}

// watch applies ctx to a net.Conn's deadline for the call.
func (c *Client) watch(ctx context.Context) func() {
	conn, ok := c.rw.(net.Conn)
	if !ok {
		return func() {}
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	return func() {
		stop()
		conn.SetDeadline(time.Time{})
	}
}

func (c *Client) ctxErr(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
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

// HTTPClient calls a JSON-RPC server over HTTP POST.
type HTTPClient struct {
	// URL is the endpoint.
	URL string
	// HTTP sends the requests; nil means http.DefaultClient (a cport
	// http.Client as its Transport puts the calls on cport).
	HTTP *nethttp.Client

	next int64
	mu   sync.Mutex
}

// Call is Client.Call over HTTP.
func (c *HTTPClient) Call(ctx context.Context, method string, params, result any) error {
	c.mu.Lock()
	c.next++
	id := c.next
	c.mu.Unlock()
	b, err := json.Marshal(clientRequest{"2.0", method, params, &id})
	if err != nil {
		return err
	}
	req, err := nethttp.NewRequestWithContext(ctx, "POST", c.URL, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = nethttp.DefaultClient
	}
	hresp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer hresp.Body.Close()
	if hresp.StatusCode != 200 {
		return fmt.Errorf("jsonrpc: HTTP status %s", hresp.Status)
	}
	var resp clientResponse
	if err := json.NewDecoder(io.LimitReader(hresp.Body, MaxMessage)).Decode(&resp); err != nil {
		return fmt.Errorf("jsonrpc: bad reply: %w", err)
	}
	return decodeResult(&resp, result)
}
