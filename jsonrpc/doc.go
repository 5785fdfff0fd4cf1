// Package jsonrpc is JSON-RPC 2.0 (https://www.jsonrpc.org/specification)
// on cport: a server whose methods are plain Go functions, served over a
// stream of newline-delimited messages (a flow.Conn, or any
// io.ReadWriter) or over HTTP POST through package http; and clients for
// both. Notifications, batches and the standard error codes are handled.
package jsonrpc
