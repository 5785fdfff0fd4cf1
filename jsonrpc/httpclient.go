package jsonrpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	nethttp "net/http"
	"strconv"
	"sync/atomic"
)

// HTTPClient calls a JSON-RPC server over HTTP POST: each call, batch or
// notification is one request, so any number may run at once.
type HTTPClient struct {
	// URL is the endpoint.
	URL string
	// HTTP sends the requests; nil means http.DefaultClient (a cport
	// http.Client as its Transport puts the calls on cport).
	HTTP *nethttp.Client

	next atomic.Int64
}

// Call is Client.Call over HTTP.
func (c *HTTPClient) Call(ctx context.Context, method string, params, result any) error {
	id := c.next.Add(1)
	body, err := c.post(ctx, clientRequest{"2.0", method, params, &id})
	if err != nil {
		return err
	}
	var resp clientResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		return fmt.Errorf("jsonrpc: bad reply: %w", err)
	}
	return decodeResult(&resp, result)
}

// Notify sends a notification; the server answers 204 and no reply.
func (c *HTTPClient) Notify(ctx context.Context, method string, params any) error {
	body, err := c.post(ctx, clientRequest{JSONRPC: "2.0", Method: method, Params: params})
	if err == nil && len(bytes.TrimSpace(body)) > 0 {
		err = errors.New("jsonrpc: a reply to a notification")
	}
	return err
}

// Batch is Client.Batch over HTTP: one POST carries every entry.
func (c *HTTPClient) Batch(ctx context.Context, calls []BatchCall) error {
	if len(calls) == 0 {
		return errors.New("jsonrpc: empty batch")
	}
	reqs := make([]clientRequest, len(calls))
	ids := make([]int64, len(calls))
	byID := make(map[int64]int, len(calls))
	for i := range calls {
		reqs[i] = clientRequest{JSONRPC: "2.0", Method: calls[i].Method, Params: calls[i].Params}
		if !calls[i].Notify {
			ids[i] = c.next.Add(1)
			reqs[i].ID = &ids[i]
			byID[ids[i]] = i
		}
	}
	body, err := c.post(ctx, reqs)
	if err != nil {
		return err
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		if len(byID) > 0 {
			return errors.New("jsonrpc: no reply to a batch with calls")
		}
		return nil
	}
	if body[0] != '[' { // the whole batch refused
		var resp clientResponse
		if err := json.Unmarshal(body, &resp); err != nil {
			return fmt.Errorf("jsonrpc: bad reply: %w", err)
		}
		if resp.Error == nil {
			return errors.New("jsonrpc: a single reply to a batch")
		}
		for i := range calls {
			if !calls[i].Notify {
				calls[i].Err = resp.Error
			}
		}
		return resp.Error
	}
	var resps []clientResponse
	if err := json.Unmarshal(body, &resps); err != nil {
		return fmt.Errorf("jsonrpc: bad reply: %w", err)
	}
	for _, r := range resps {
		id, err := strconv.ParseInt(string(r.ID), 10, 64)
		i, ok := byID[id]
		if err != nil || !ok {
			continue
		}
		calls[i].Err = decodeResult(&r, calls[i].Result)
		delete(byID, id)
	}
	for _, i := range byID {
		calls[i].Err = errors.New("jsonrpc: no reply to this call in the batch")
	}
	return nil
}

// post sends msg and returns the reply body (empty for 204).
func (c *HTTPClient) post(ctx context.Context, msg any) ([]byte, error) {
	b, err := json.Marshal(msg)
	if err != nil {
		return nil, err
	}
	req, err := nethttp.NewRequestWithContext(ctx, "POST", c.URL, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = nethttp.DefaultClient
	}
	hresp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer hresp.Body.Close()
	switch hresp.StatusCode {
	case 200:
	case 204:
		return nil, nil
	default:
		return nil, fmt.Errorf("jsonrpc: HTTP status %s", hresp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(hresp.Body, MaxMessage+1))
	if err != nil {
		return nil, err
	}
	if len(body) > MaxMessage {
		return nil, ErrMessageTooLarge
	}
	return body, nil
}
