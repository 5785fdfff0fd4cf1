package jsonrpc_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cport/cport/jsonrpc"
)

// A batch past MaxBatch gets one -32600 reply and none of it runs; one
// within it runs whole.
func TestBatchLimit(t *testing.T) {
	s := newServer(t)
	s.MaxBatch = 3
	var ran int
	s.Register("count", func(context.Context) error { ran++; return nil })
	big := "[" + strings.Repeat(`{"jsonrpc":"2.0","method":"count","id":1},`, 4)
	big = big[:len(big)-1] + "]"
	var reply map[string]any
	if err := json.Unmarshal(s.Handle(context.Background(), []byte(big)), &reply); err != nil {
		t.Fatalf("reply to an oversized batch is not one object: %v", err)
	}
	if code := reply["error"].(map[string]any)["code"].(float64); code != jsonrpc.CodeInvalidRequest || ran != 0 {
		t.Fatalf("code %v, %d entries ran; want -32600 and none", code, ran)
	}
	ok := "[" + strings.Repeat(`{"jsonrpc":"2.0","method":"count","id":1},`, 3)
	ok = ok[:len(ok)-1] + "]"
	s.Handle(context.Background(), []byte(ok))
	if ran != 3 {
		t.Fatalf("%d entries of a 3-entry batch ran", ran)
	}
}

// The default bound turns away a 1 MB batch of tiny entries ("[1,1,…]")
// with one small reply, instead of a 40 MB one.
func TestHugeBatchOfTinyEntries(t *testing.T) {
	s := newServer(t)
	msg := "[" + strings.Repeat("1,", 500_000) + "1]"
	reply := s.Handle(context.Background(), []byte(msg))
	if len(reply) > 1024 || !strings.Contains(string(reply), "-32600") {
		t.Fatalf("reply of %d bytes: %.200s", len(reply), reply)
	}
}

// On a stream, the same batch is refused as it arrives: the server keeps
// none of its megabyte (it allocates a small fraction of it), replies
// -32600 once the line ends, and answers the stream's next call.
func TestStreamHugeBatchNotBuffered(t *testing.T) {
	s := newServer(t)
	s.Register("one", func(context.Context) (int, error) { return 1, nil })
	a, b := net.Pipe()
	defer b.Close()
	done := make(chan error, 1)
	go func() { done <- s.ServeConn(context.Background(), a); a.Close() }()
	huge := []byte("[" + strings.Repeat("1,", 500_000) + "1]\n")
	next := []byte(`{"jsonrpc":"2.0","method":"one","id":7}` + "\n")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	go func() {
		b.Write(huge)
		b.Write(next)
	}()
	b.SetReadDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(b)
	line, err := br.ReadString('\n')
	if err != nil || !strings.Contains(line, "-32600") {
		t.Fatalf("reply to a 1 MB batch: %q, %v", line, err)
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > uint64(len(huge))/4 {
		t.Errorf("the server allocated %d bytes while reading a %d-byte batch it refuses; want a fraction of it", got, len(huge))
	}
	line, err = br.ReadString('\n')
	if err != nil || !strings.Contains(line, `"result":1`) {
		t.Fatalf("the call after the refused batch: %q, %v", line, err)
	}
	b.Close()
	<-done
}

// A method's panic reaches the peer as a bare internal error; its text
// goes to the server's log.
func TestPanicTextStaysHome(t *testing.T) {
	s := newServer(t)
	var log strings.Builder
	s.Logger = slog.New(slog.NewTextHandler(&log, nil))
	reply := string(s.Handle(context.Background(), []byte(`{"jsonrpc":"2.0","method":"panic","id":1}`)))
	if strings.Contains(reply, "boom") || !strings.Contains(reply, "-32603") {
		t.Fatalf("reply %s", reply)
	}
	if !strings.Contains(log.String(), "boom") {
		t.Fatalf("the panic was not logged: %q", log.String())
	}
}

// On a stream, a message over MaxMessage gets a -32600 reply, then the
// stream ends; a silent peer is let go after IdleTimeout.
func TestStreamLimits(t *testing.T) {
	s := newServer(t)
	s.MaxMessage = 1024
	s.IdleTimeout = 100 * time.Millisecond
	serve := func() (net.Conn, chan error) {
		a, b := net.Pipe()
		done := make(chan error, 1)
		go func() { done <- s.ServeConn(context.Background(), a); a.Close() }()
		return b, done
	}

	c, done := serve()
	go io.WriteString(c, strings.Repeat("x", 4096)+"\n")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.Contains(line, "-32600") {
		t.Fatalf("reply to an oversized message: %q, %v", line, err)
	}
	if err := <-done; err != jsonrpc.ErrMessageTooLarge {
		t.Fatalf("ServeConn ended with %v, want ErrMessageTooLarge", err)
	}
	c.Close()

	c, done = serve()
	defer c.Close()
	select {
	case err := <-done:
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("ServeConn on a silent peer ended with %v, want a timeout", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a silent peer held the stream past its idle timeout")
	}
}
