package jsonrpc

import "fmt"

// The standard error codes.
const (
	CodeParseError     = -32700
	CodeInvalidRequest = -32600
	CodeMethodNotFound = -32601
	CodeInvalidParams  = -32602
	CodeInternalError  = -32603
	// CodeServerError is what a method's plain (non-*Error) error becomes:
	// the spec reserves -32000 to -32099 for implementation-defined
	// server errors.
	CodeServerError = -32000
)

// Error is a JSON-RPC error object. A method returns one to choose the
// code; a client returns one when the server answered with an error.
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

func (e *Error) Error() string { return fmt.Sprintf("jsonrpc: %s (%d)", e.Message, e.Code) }
