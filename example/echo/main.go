// Command echo is an echo server on cport's transports: a Protocol per
// connection, called back on its loop, with no goroutine per connection.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/cport/cport/loop"
	"github.com/cport/cport/transport"
)

// echo writes back what it reads.
type echo struct {
	transport.BaseProtocol
	t transport.Transport
}

func (e *echo) ConnectionMade(t transport.Transport) { e.t = t }

// DataReceived queues data at once: the slice is valid only during the
// call, and Write copies what it cannot send now.
func (e *echo) DataReceived(data []byte) { _ = e.t.Write(data) }

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "address to listen on")
	loops := flag.Int("loops", 0, "event loops (default GOMAXPROCS)")
	flag.Parse()

	g, err := loop.NewGroup(*loops, loop.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer g.Close()
	ln, err := transport.Listen(g, "tcp", *addr, func() transport.Protocol { return &echo{} })
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	fmt.Printf("echo: listening on %s, %d loops, %s backend\n", ln.Addr(), len(g.Loops()), g.Loops()[0].Backend())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
}
