package http_test

import (
	"context"
	"fmt"
	"io"
	nethttp "net/http"

	cphttp "github.com/cport/cport/http"
	"github.com/cport/cport/loop"
)

func Example() {
	g, err := loop.NewGroup(1, loop.Config{})
	if err != nil {
		panic(err)
	}
	defer g.Close()

	// A native handler: plain sequential code, run as a flow on the
	// connection's loop; w and r are reused, so it allocates nothing.
	s := &cphttp.Server{Handler: cphttp.HandlerFunc(func(w *cphttp.ResponseWriter, r *cphttp.Request) {
		w.AddHeader("Content-Type", "text/plain")
		w.WriteString("Hello, ")
		w.Write(r.Path()[1:])
	})}
	addr, err := s.Listen(g, "tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer s.Shutdown(context.Background())

	resp, err := nethttp.Get("http://" + addr.String() + "/World")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.Status, string(body))
	// Output: 200 OK Hello, World
}
