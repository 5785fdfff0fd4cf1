package jsonrpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"runtime/debug"
	"sync"
	"time"
)

// Server dispatches JSON-RPC requests to registered methods. It is safe
// for concurrent use; set its fields and register methods before serving.
// The zero value serves with the defaults below.
type Server struct {
	// MaxBatch bounds the entries of one batch; a larger batch gets one
	// -32600 error reply and none of it runs (the spec lets a server
	// refuse). Default DefaultMaxBatch.
	MaxBatch int
	// MaxMessage bounds one message, on a stream or in an HTTP body.
	// Default DefaultMaxMessage.
	MaxMessage int
	// IdleTimeout closes a stream (ServeConn) whose peer sends no message
	// for this long, when the stream has read deadlines (a net.Conn).
	// Default DefaultIdleTimeout; negative turns it off.
	IdleTimeout time.Duration
	// Logger hears of methods that panicked (with the stack); the peer
	// gets a bare internal error. Default slog.Default().
	Logger *slog.Logger

	mu      sync.RWMutex
	methods map[string]*method
}

// Defaults of the Server's limits.
const (
	DefaultMaxBatch    = 1000
	DefaultMaxMessage  = 1 << 20
	DefaultIdleTimeout = 2 * time.Minute
)

func (s *Server) maxBatch() int {
	if s.MaxBatch > 0 {
		return s.MaxBatch
	}
	return DefaultMaxBatch
}

func (s *Server) maxMessage() int {
	if s.MaxMessage > 0 {
		return s.MaxMessage
	}
	return DefaultMaxMessage
}

func (s *Server) idleTimeout() time.Duration {
	if s.IdleTimeout == 0 {
		return DefaultIdleTimeout
	}
	return max(s.IdleTimeout, 0)
}

// method is a registered function: func(ctx, P) (R, error), with P and R
// any JSON-codable types; P may be omitted, and R too (func(ctx) error).
type method struct {
	fn       reflect.Value
	params   reflect.Type // nil: no params
	hasValue bool
}

var (
	ctxType = reflect.TypeFor[context.Context]()
	errType = reflect.TypeFor[error]()
)

// Register adds fn as method name. fn must be one of
//
//	func(context.Context, P) (R, error)
//	func(context.Context, P) error
//	func(context.Context) (R, error)
//	func(context.Context) error
//
// Params are decoded into P with encoding/json (by-position params need
// a slice or array P); the result R is encoded with it.
func (s *Server) Register(name string, fn any) error {
	v := reflect.ValueOf(fn)
	t := v.Type()
	if t.Kind() != reflect.Func || t.NumIn() < 1 || t.NumIn() > 2 || t.In(0) != ctxType ||
		t.NumOut() < 1 || t.NumOut() > 2 || t.Out(t.NumOut()-1) != errType {
		return fmt.Errorf("jsonrpc: %s: want func(context.Context[, P]) ([R, ]error), got %v", name, t)
	}
	m := &method{fn: v, hasValue: t.NumOut() == 2}
	if t.NumIn() == 2 {
		m.params = t.In(1)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.methods == nil {
		s.methods = make(map[string]*method)
	}
	s.methods[name] = m
	return nil
}

// request is one incoming message.
type request struct {
	JSONRPC string          `json:"jsonrpc"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
	ID      json.RawMessage `json:"id"`
}

// response is one outgoing message.
type response struct {
	JSONRPC string          `json:"jsonrpc"`
	Result  any             `json:"result,omitempty"`
	Error   *Error          `json:"error,omitempty"`
	ID      json.RawMessage `json:"id"`
}

var null = json.RawMessage("null")

// Handle processes one message (a request, a notification or a batch)
// and returns the reply to send, or nil when none is due (notifications
// only).
func (s *Server) Handle(ctx context.Context, msg []byte) []byte {
	msg = bytes.TrimSpace(msg)
	if len(msg) > s.maxMessage() {
		return encode(errorResponse(null, CodeInvalidRequest, fmt.Sprintf("invalid request: message of %d bytes (at most %d)", len(msg), s.maxMessage())))
	}
	if len(msg) > 0 && msg[0] == '[' {
		batch, err := splitBatch(msg, s.maxBatch())
		if err != nil {
			return encode(errorResponse(null, err.Code, err.Message))
		}
		var out []response
		for _, m := range batch {
			if r, ok := s.handleOne(ctx, m); ok {
				out = append(out, r)
			}
		}
		if len(out) == 0 {
			return nil
		}
		return encode(out)
	}
	if r, ok := s.handleOne(ctx, msg); ok {
		return encode(r)
	}
	return nil
}

// splitBatch returns a batch's entries, refusing, before it has read
// them all, one of more than max entries: the entries of a huge batch of
// tiny requests would cost far more memory than its bytes.
func splitBatch(msg []byte, max int) ([]json.RawMessage, *Error) {
	if !json.Valid(msg) {
		return nil, &Error{Code: CodeParseError, Message: "parse error"}
	}
	dec := json.NewDecoder(bytes.NewReader(msg))
	if _, err := dec.Token(); err != nil { // the '['
		return nil, &Error{Code: CodeParseError, Message: "parse error"}
	}
	var batch []json.RawMessage
	for dec.More() {
		if len(batch) == max {
			return nil, batchTooLarge(max)
		}
		var m json.RawMessage
		if err := dec.Decode(&m); err != nil {
			return nil, &Error{Code: CodeParseError, Message: "parse error"}
		}
		batch = append(batch, m)
	}
	if len(batch) == 0 {
		return nil, &Error{Code: CodeInvalidRequest, Message: "invalid request: empty batch"}
	}
	return batch, nil
}

// batchTooLarge is the refusal of a batch of more than max entries.
func batchTooLarge(max int) *Error {
	return &Error{Code: CodeInvalidRequest, Message: fmt.Sprintf("invalid request: batch of more than %d entries", max)}
}

func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(errorResponse(null, CodeInternalError, "internal error: "+err.Error()))
	}
	return b
}

func errorResponse(id json.RawMessage, code int, msg string) response {
	return response{JSONRPC: "2.0", Error: &Error{Code: code, Message: msg}, ID: id}
}

// handleOne answers one request; ok is false for a notification.
func (s *Server) handleOne(ctx context.Context, msg []byte) (response, bool) {
	if !json.Valid(msg) {
		return errorResponse(null, CodeParseError, "parse error"), true
	}
	var req request
	if err := json.Unmarshal(msg, &req); err != nil || req.JSONRPC != "2.0" || req.Method == "" || !validID(req.ID) {
		id := req.ID
		if !validID(id) || id == nil {
			id = null
		}
		return errorResponse(id, CodeInvalidRequest, "invalid request"), true
	}
	notify := req.ID == nil
	result, rerr := s.call(ctx, &req)
	if notify {
		return response{}, false
	}
	if rerr != nil {
		return response{JSONRPC: "2.0", Error: rerr, ID: req.ID}, true
	}
	if result == nil {
		result = null // "result" is required on success
	}
	return response{JSONRPC: "2.0", Result: result, ID: req.ID}, true
}

// validID: a string, a number or null (or absent, for a notification).
func validID(id json.RawMessage) bool {
	if id == nil {
		return true
	}
	switch id[0] {
	case '"', 'n', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return true
	}
	return false
}

// call runs the method, turning a panic into an internal error.
func (s *Server) call(ctx context.Context, req *request) (result any, rerr *Error) {
	s.mu.RLock()
	m := s.methods[req.Method]
	s.mu.RUnlock()
	if m == nil {
		return nil, &Error{Code: CodeMethodNotFound, Message: "method not found: " + req.Method}
	}
	args := []reflect.Value{reflect.ValueOf(ctx)}
	if m.params != nil {
		p := reflect.New(m.params)
		if len(req.Params) > 0 && string(req.Params) != "null" {
			if err := json.Unmarshal(req.Params, p.Interface()); err != nil {
				return nil, &Error{Code: CodeInvalidParams, Message: "invalid params: " + err.Error()}
			}
		}
		args = append(args, p.Elem())
	}
	defer func() {
		if v := recover(); v != nil {
			// The panic's text is for the operator, not the peer.
			logger := s.Logger
			if logger == nil {
				logger = slog.Default()
			}
			logger.Error("jsonrpc: method panicked", "method", req.Method, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			result, rerr = nil, &Error{Code: CodeInternalError, Message: "internal error"}
		}
	}()
	out := m.fn.Call(args)
	if err, _ := out[len(out)-1].Interface().(error); err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, e
		}
		return nil, &Error{Code: CodeServerError, Message: err.Error()}
	}
	if m.hasValue {
		return out[0].Interface(), nil
	}
	return nil, nil
}
