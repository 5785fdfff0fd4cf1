// Command cport is the smallest echo server on cport's transport layer:
// a loop group and a protocol that writes back what it receives, as the
// other servers here are the smallest on theirs. It is what a program
// built on the library costs; `cport echo` (cmd/cport) carries the
// command's HTTP server, TLS, metrics and load generators as well, whose
// code counts in its resident memory.
package main

import (
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/cport/cport/loop"
	"github.com/cport/cport/port"
	"github.com/cport/cport/transport"
)

type echo struct {
	transport.BaseProtocol
	t transport.Transport
}

func (e *echo) ConnectionMade(t transport.Transport) { e.t = t }
func (e *echo) DataReceived(data []byte)             { e.t.Write(data) }

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "listen address HOST:PORT")
	loops := flag.Int("loops", 1, "number of loops")
	backend := flag.String("backend", "", "uring or epoll (default: the best that works)")
	flag.Parse()
	loop.ReserveProcs(*loops)
	g, err := loop.NewGroup(*loops, loop.Config{Port: port.Config{Backend: *backend}})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := transport.Listen(g, "tcp", *addr, func() transport.Protocol { return &echo{} })
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("cport echo (minimal) on %s, pid %d", ln.Addr(), os.Getpid())
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	ln.Close()
	g.Close()
}
