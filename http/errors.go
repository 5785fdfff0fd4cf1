package http

import (
	"errors"
	nethttp "net/http"
)

// statusError is a request the server refuses: code is the status it
// answers with before closing the connection. The parser returns the
// package's values below, so refusing allocates nothing.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return "http: " + e.msg }

func bad(msg string) *statusError { return &statusError{nethttp.StatusBadRequest, msg} }

var (
	errBareLF          = bad("bare LF where CRLF is required")
	errBareCR          = bad("bare CR in request head")
	errRequestLine     = bad("malformed request line")
	errMethod          = bad("invalid method")
	errTarget          = bad("invalid request target")
	errVersion         = bad("malformed HTTP version")
	errObsFold         = bad("obsolete line folding")
	errFieldName       = bad("invalid header field name")
	errFieldValue      = bad("invalid header field value")
	errContentLength   = bad("invalid Content-Length")
	errCLConflict      = bad("conflicting Content-Length values")
	errCLAndTE         = bad("both Content-Length and Transfer-Encoding")
	errTransferEnc     = bad("chunked is not the final transfer coding")
	errTE10            = bad("Transfer-Encoding in an HTTP/1.0 request")
	errHost            = bad("missing or repeated Host")
	errChunkSize       = bad("invalid chunk size line")
	errChunkData       = bad("chunk data not followed by CRLF")
	errTrailer         = bad("invalid trailer field")
	errUnsupportedTE   = &statusError{nethttp.StatusNotImplemented, "unsupported transfer coding"}
	errVersionNotSupp  = &statusError{nethttp.StatusHTTPVersionNotSupported, "HTTP version not supported"}
	errExpectation     = &statusError{nethttp.StatusExpectationFailed, "unsupported expectation"}
	errHeadTooLarge    = &statusError{nethttp.StatusRequestHeaderFieldsTooLarge, "request head too large"}
	errTooManyHeaders  = &statusError{nethttp.StatusRequestHeaderFieldsTooLarge, "too many header fields"}
	errBodyTooLarge    = &statusError{nethttp.StatusRequestEntityTooLarge, "request body too large"}
	errHeaderTimeout   = &statusError{nethttp.StatusRequestTimeout, "request head not received in time"}
	errChunkLineLength = bad("chunk size line too long")
)

// ErrBodyTooLarge is returned by a request body's Read once the body
// passes Limits.MaxBodyBytes.
var ErrBodyTooLarge error = errBodyTooLarge

// ErrBadBody is wrapped by a request body's Read when the chunked framing
// is malformed.
var ErrBadBody = errors.New("http: malformed chunked body")
