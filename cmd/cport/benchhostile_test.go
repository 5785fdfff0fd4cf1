package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	cphttp "github.com/cport/cport/http"
	"github.com/cport/cport/loop"
)

// bench hostile's slow-body peers are all closed by a server with a short
// body timeout, and the normal client is served meanwhile.
func TestBenchHostileSlowBody(t *testing.T) {
	addr := startSlowBodyTarget(t)
	var out bytes.Buffer
	args := []string{"--addr", addr.String(), "--kind", "slowbody", "--peers", "20", "--wait", "20s", "--normal", "/plaintext"}
	if err := runBenchHostile(args, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "RESULT peers=20 closed=20 ") {
		t.Fatalf("want all 20 closed:\n%s", out.String())
	}
}

// startSlowBodyTarget serves cport http's routes with a 200 ms body
// timeout, until the test ends, and returns the address.
func startSlowBodyTarget(t *testing.T) net.Addr {
	t.Helper()
	g, err := loop.NewGroup(1, loop.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	s := &cphttp.Server{Handler: cphttp.HandlerFunc(nativeRoutes), Limits: cphttp.Limits{BodyReadTimeout: 200 * time.Millisecond},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	addr, err := s.Listen(g, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return addr
}

// bench hostile's pipelining peers that the server stops reading are told
// apart from those it answered in full, and every stalled one is closed
// by a server with a short send timeout.
func TestBenchHostilePipelineStalled(t *testing.T) {
	g, err := loop.NewGroup(1, loop.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	s := &cphttp.Server{Handler: cphttp.HandlerFunc(nativeRoutes), Limits: cphttp.Limits{SendTimeout: 300 * time.Millisecond},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	addr, err := s.Listen(g, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var out bytes.Buffer
	args := []string{"--addr", addr.String(), "--kind", "pipeline", "--peers", "8", "--wait", "20s"}
	if err := runBenchHostile(args, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	var peers, closed, lastMS, stalled int
	line := out.String()[strings.Index(out.String(), "RESULT "):]
	if _, err := fmt.Sscanf(line, "RESULT peers=%d closed=%d last_close_ms=%d stalled=%d",
		&peers, &closed, &lastMS, &stalled); err != nil {
		t.Fatalf("reading the RESULT line: %v\n%s", err, out.String())
	}
	if stalled == 0 || closed != stalled {
		t.Fatalf("%d stalled, %d closed: want some stalled, all of them closed\n%s", stalled, closed, out.String())
	}
}
