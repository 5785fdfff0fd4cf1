package http_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	nethttp "net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	cphttp "github.com/cport/cport/http"
)

// A WebSocket echo served through Adapt: the library (coder/websocket)
// takes the connection with http.Hijacker after its Upgrade, and echoes
// messages of several sizes to a client of the same library.
func TestWebSocketEcho(t *testing.T) {
	mux := nethttp.NewServeMux()
	mux.HandleFunc("/ws", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		ws.SetReadLimit(1 << 20)
		for {
			typ, msg, err := ws.Read(r.Context())
			if err != nil {
				return
			}
			if err := ws.Write(r.Context(), typ, msg); err != nil {
				return
			}
		}
	})
	_, addr := startServer(t, cphttp.Adapt(mux), cphttp.Limits{IdleTimeout: 200 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	ws.SetReadLimit(1 << 20)
	for _, size := range []int{1, 125, 126, 65536, 500 << 10} {
		msg := strings.Repeat("w", size)
		if err := ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatalf("write %d: %v", size, err)
		}
		_, got, err := ws.Read(ctx)
		if err != nil || string(got) != msg {
			t.Fatalf("echo of %d bytes: %d bytes, %v", size, len(got), err)
		}
		// Past the server's idle timeout: a hijacked connection is not
		// the server's to close.
		time.Sleep(250 * time.Millisecond)
	}
	if err := ws.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Errorf("close: %v", err)
	}
}

// The native Hijack: bytes the client sent right after the request (read
// by the server already) are the first the hijacked connection reads,
// the server writes nothing after it, and a second Hijack or a write
// through the ResponseWriter fails.
func TestHijackKeepsBufferedBytes(t *testing.T) {
	errs := make(chan error, 3)
	_, addr := startServer(t, cphttp.HandlerFunc(func(w *cphttp.ResponseWriter, r *cphttp.Request) {
		conn, err := w.Hijack()
		if err != nil {
			errs <- err
			return
		}
		defer conn.Close()
		if _, err := w.Hijack(); !errors.Is(err, cphttp.ErrHijacked) {
			errs <- errors.New("a second Hijack did not fail with ErrHijacked")
		}
		if _, err := w.WriteString("x"); !errors.Is(err, cphttp.ErrHijacked) {
			errs <- errors.New("a write after Hijack did not fail with ErrHijacked")
		}
		io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		br := bufio.NewReader(conn)
		line, err := br.ReadString('\n')
		if err != nil {
			errs <- err
			return
		}
		io.WriteString(conn, "echo: "+line)
		errs <- nil
	}), cphttp.Limits{})
	c, br := rawConn(t, addr)
	// The first line of the new protocol goes in the same write as the
	// request: the server reads it with the head.
	io.WriteString(c, "GET /x HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nhello\n")
	resp, err := nethttp.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v, %v", resp, err)
	}
	line, err := br.ReadString('\n')
	if err != nil || line != "echo: hello\n" {
		t.Fatalf("after the upgrade: %q, %v", line, err)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	// Nothing more from the server: the hijacked conn closed, no 200.
	if rest, _ := io.ReadAll(br); len(rest) != 0 {
		t.Errorf("the server wrote %q after the hijack", rest)
	}
}
