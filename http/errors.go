package http

import (
	"errors"
	"io"
	nethttp "net/http"
)

// statusError is a request the server refuses: code is the status it
// answers with before closing the connection. The parser returns the
// package's values below, so refusing allocates nothing.
type statusError struct {
	code  int
	msg   string
	wraps error // what errors.Is also finds in it, if anything
}

func (e *statusError) Error() string { return "http: " + e.msg }

func (e *statusError) Unwrap() error { return e.wraps }

func bad(msg string) *statusError { return &statusError{code: nethttp.StatusBadRequest, msg: msg} }

// badBody is a malformed chunked body: ErrBadBody to errors.Is.
func badBody(msg string) *statusError {
	return &statusError{code: nethttp.StatusBadRequest, msg: msg, wraps: ErrBadBody}
}

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
	errChunkSize       = badBody("invalid chunk size line")
	errChunkData       = badBody("chunk data not followed by CRLF")
	errTrailer         = badBody("invalid trailer field")
	errUnsupportedTE   = &statusError{code: nethttp.StatusNotImplemented, msg: "unsupported transfer coding"}
	errVersionNotSupp  = &statusError{code: nethttp.StatusHTTPVersionNotSupported, msg: "HTTP version not supported"}
	errExpectation     = &statusError{code: nethttp.StatusExpectationFailed, msg: "unsupported expectation"}
	errHeadTooLarge    = &statusError{code: nethttp.StatusRequestHeaderFieldsTooLarge, msg: "request head too large"}
	errTooManyHeaders  = &statusError{code: nethttp.StatusRequestHeaderFieldsTooLarge, msg: "too many header fields"}
	errBodyTooLarge    = &statusError{code: nethttp.StatusRequestEntityTooLarge, msg: "request body too large"}
	errHeaderTimeout   = &statusError{code: nethttp.StatusRequestTimeout, msg: "request head not received in time"}
	errBodyTimeout     = &statusError{code: nethttp.StatusRequestTimeout, msg: "request body not received in time"}
	errChunkLineLength = badBody("chunk size line too long")
	// errTruncatedBody: the client ended its side before the body it
	// declared; the handler's Read fails with it (io.ErrUnexpectedEOF to
	// errors.Is), and the server answers 400 rather than what the handler
	// wrote for a body it never got whole.
	errTruncatedBody = &statusError{code: nethttp.StatusBadRequest, msg: "request body ended before its declared length", wraps: io.ErrUnexpectedEOF}
)

// ErrBodyTooLarge is returned by a request body's Read once the body
// passes Limits.MaxBodyBytes.
var ErrBodyTooLarge error = errBodyTooLarge

// ErrBadBody is wrapped by the error a request body's Read returns when
// the chunked framing is malformed.
var ErrBadBody = errors.New("http: malformed chunked body")
