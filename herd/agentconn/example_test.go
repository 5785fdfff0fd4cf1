package agentconn_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/herd/agent"
	"github.com/cport/cport/herd/agentconn"
	"github.com/cport/cport/herd/ca"
	"github.com/cport/cport/loop"
)

// A CA, an agent on 127.0.0.1 and a controller running a command on it.
func Example() {
	dir, _ := os.MkdirTemp("", "herd-example")
	defer os.RemoveAll(dir)
	ca.Init(dir, "example CA", 0)
	auth, _ := ca.Load(dir)
	for file, req := range map[string]ca.Request{
		"agent": {Role: ca.Agent, Name: "127.0.0.1"},
		"ops":   {Role: ca.Controller, Name: "ops"},
	} {
		is, _ := auth.Issue(req)
		is.Write(dir, file)
	}
	path := func(f string) string { return filepath.Join(dir, f) }

	serverTLS, err := agent.ServerTLS(path("ca.crt"), path("agent.crt"), path("agent.key"))
	if err != nil {
		fmt.Println(err)
		return
	}
	srv, _ := agent.New(agent.Config{TLS: serverTLS, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	g, _ := loop.NewGroup(1, loop.Config{})
	defer g.Close()
	ln, _ := srv.Listen(context.Background(), g, "127.0.0.1:0")
	go srv.Serve(ln)
	defer srv.Close(0)
	defer ln.Close()

	clientTLS, _ := agentconn.ClientTLS(path("ca.crt"), path("ops.crt"), path("ops.key"))
	l, _ := loop.Start(loop.Config{})
	defer l.Close()
	conn, _ := agentconn.New(agentconn.Config{Loop: l, TLS: clientTLS})
	flow.Go(l, func(f *flow.Flow) {
		s, err := conn.Connect(f.Context(), ln.Addr().String())
		if err != nil {
			fmt.Println(err)
			return
		}
		defer s.Close()
		var out strings.Builder
		exit, err := s.Run(f.Context(), "echo hello from the agent", &out, io.Discard)
		fmt.Print(out.String())
		fmt.Println("exit", exit, err)
	}).Wait()
	// Output:
	// hello from the agent
	// exit 0 <nil>
}
