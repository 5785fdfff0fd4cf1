// Command gnet is an echo server on gnet v2 (epoll reactor).
//
// Configuration, chosen to be fair to gnet for a one-core echo:
//   - WithMulticore(false) and WithNumEventLoop(loops) with loops=1 by
//     default: the server is pinned to one core, so one event loop.
//   - ReusePort and EdgeTriggeredIO stay at the library defaults (off; the
//     options docs say not to enable ET unless sure), unless --reuseport /
//     --et are given. Without ReusePort gnet runs a main reactor that accepts
//     and a sub-reactor loop that does the I/O; accepts do not matter in the
//     steady state measured here.
//   - ReadBufferCap and WriteBufferCap are set explicitly to 64 KiB (the
//     library's default): the read buffer is one per event loop, so a 16 KiB
//     message is read in one read(2) and never disadvantaged; the outbound
//     buffer is only used for what write(2) did not take.
//   - TCPNoDelay is on (the default), as for every other server here.
//   - Logging at error level only, so log I/O does not cost CPU.
//
// OnTraffic takes everything buffered with Next(-1) and writes it back with
// Write, which calls write(2) inline and queues any remainder.
package main

import (
	"flag"
	"log"

	"github.com/panjf2000/gnet/v2"
	"github.com/panjf2000/gnet/v2/pkg/logging"
)

type echo struct {
	gnet.BuiltinEventEngine
}

func (echo) OnTraffic(c gnet.Conn) gnet.Action {
	data, err := c.Next(-1)
	if err != nil {
		return gnet.Close
	}
	if _, err := c.Write(data); err != nil {
		return gnet.Close
	}
	return gnet.None
}

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "listen address HOST:PORT")
	loops := flag.Int("loops", 1, "number of event loops")
	reusePort := flag.Bool("reuseport", false, "SO_REUSEPORT listener per loop (gnet default: off)")
	et := flag.Bool("et", false, "edge-triggered epoll (gnet default: off)")
	flag.Parse()

	log.Printf("gnet echo listening on %s (loops=%d)", *addr, *loops)
	err := gnet.Run(&echo{}, "tcp://"+*addr,
		gnet.WithMulticore(false),
		gnet.WithNumEventLoop(*loops),
		gnet.WithReusePort(*reusePort),
		gnet.WithEdgeTriggeredIO(*et),
		gnet.WithReadBufferCap(64<<10),
		gnet.WithWriteBufferCap(64<<10),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithLogLevel(logging.ErrorLevel),
	)
	if err != nil {
		log.Fatal(err)
	}
}
