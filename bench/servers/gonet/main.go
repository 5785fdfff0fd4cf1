// Command gonet is an echo server on Go's net package: one goroutine per
// connection, each reading into its own 16 KiB buffer and writing back what
// it read. This is how most Go programs are written, so it is the baseline
// users compare against.
//
// Fairness: TCP_NODELAY is on (Go's default for TCP). No bufio: the echo
// writes back each read as it arrives. GOMAXPROCS follows the CPU affinity
// the bench script sets (taskset -c 0 gives 1).
package main

import (
	"errors"
	"flag"
	"log"
	"net"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "listen address HOST:PORT")
	bufSize := flag.Int("buf", 16<<10, "per-connection read buffer size in bytes")
	flag.Parse()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("gonet echo listening on %s", ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			// EMFILE and friends: the net package already backs off for
			// temporary errors; keep serving.
			log.Printf("accept: %v", err)
			continue
		}
		go serve(c, *bufSize)
	}
}

func serve(c net.Conn, bufSize int) {
	defer c.Close()
	buf := make([]byte, bufSize)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // io.EOF or a reset: the peer is gone
		}
	}
}
