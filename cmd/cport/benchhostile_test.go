package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	cphttp "github.com/cport/cport/http"
	"github.com/cport/cport/loop"
)

// bench hostile's slow-body peers are all closed by a server with a short
// body timeout, and the normal client is served meanwhile.
func TestBenchHostileSlowBody(t *testing.T) {
	g, err := loop.NewGroup(1, loop.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	s := &cphttp.Server{Handler: cphttp.HandlerFunc(nativeRoutes), Limits: cphttp.Limits{BodyReadTimeout: 200 * time.Millisecond},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	addr, err := s.Listen(g, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	var out bytes.Buffer
	args := []string{"--addr", addr.String(), "--kind", "slowbody", "--peers", "20", "--wait", "20s", "--normal", "/plaintext"}
	if err := runBenchHostile(args, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "RESULT peers=20 closed=20 ") {
		t.Fatalf("want all 20 closed:\n%s", out.String())
	}
}
