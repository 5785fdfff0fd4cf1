package jsonrpc

import (
	"io"

	cphttp "github.com/cport/cport/http"
)

// HTTPHandler serves JSON-RPC over HTTP POST on cport's http server: the
// request body is one message or batch, the response body its reply (204
// when it held only notifications).
func (s *Server) HTTPHandler() cphttp.Handler {
	return cphttp.HandlerFunc(func(w *cphttp.ResponseWriter, r *cphttp.Request) {
		if string(r.Method) != "POST" {
			w.AddHeader("Allow", "POST")
			w.WriteHeader(405)
			return
		}
		limit := s.maxMessage()
		body, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
		if err != nil || len(body) > limit {
			w.WriteHeader(413)
			return
		}
		reply := s.Handle(r.Context(), body)
		if reply == nil {
			w.WriteHeader(204)
			return
		}
		w.AddHeader("Content-Type", "application/json")
		w.Write(reply)
	})
}
