// Command nbio is an echo server on lesismal/nbio (epoll reactor).
//
// Configuration, chosen to be fair to nbio for a one-core echo:
//   - NPoller = loops (1 by default): the server is pinned to one core.
//     nbio still runs its listener in a separate goroutine doing a blocking
//     Accept; accepts do not matter in the steady state measured here.
//   - ReadBufferSize 64 KiB (nbio's default): one read buffer per poller, so
//     a 16 KiB message is read in one read(2).
//   - MaxWriteBufferSize 0 (the default: unlimited), so nothing is closed
//     for lack of write buffer space; Write calls write(2) inline and queues
//     the remainder.
//   - Level-triggered epoll and MaxConnReadTimesPerEventLoop 3 (defaults).
//   - OnData runs on the poller goroutine (the default), no task pool hop.
//   - TCP_NODELAY on: nbio takes sockets from Go's net.Listen, whose
//     accepted connections have it on by default.
package main

import (
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/lesismal/nbio"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "listen address HOST:PORT")
	loops := flag.Int("loops", 1, "number of pollers (NPoller)")
	flag.Parse()

	engine := nbio.NewEngine(nbio.Config{
		Network:        "tcp",
		Addrs:          []string{*addr},
		NPoller:        *loops,
		ReadBufferSize: 64 << 10,
	})
	engine.OnData(func(c *nbio.Conn, data []byte) {
		if _, err := c.Write(data); err != nil {
			c.Close()
		}
	})
	if err := engine.Start(); err != nil {
		log.Fatal(err)
	}
	log.Printf("nbio echo listening on %s (pollers=%d)", *addr, *loops)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	engine.Stop()
}
