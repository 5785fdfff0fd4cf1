package main

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"time"
)

// The fault-laden echo soak: clients that send random amounts (up to
// 256 KiB a write) in random ways — reading as they go, reading only after
// a half-close, reading slowly, resetting mid-stream — against both echo
// styles, each connection checked by SHA-256 of what went out against
// what came back. A fixed number of connections, from fixed seeds, so a
// failure repeats.
const (
	soakClients  = 16 // at once
	soakSessions = 12 // connections per client, one after another

	// A slow reader's sips, from soakSipMin to soakSipMax bytes: small
	// next to what the echo writes at once (up to 64 KiB), so its replies
	// back up and its writes park, yet few enough per session that the
	// client's own reads fit the session's deadline wherever the test
	// runs. Under Wine each Read of Go's net costs 0.1 to 0.3 ms; sips
	// of 1 or 2 bytes made a session of 800 KB take over 60 s of the
	// client's reads while the echo waited on its closed window.
	soakSipMin = 512
	soakSipMax = 4 << 10
)

type soakMode int

const (
	soakPingPong  soakMode = iota // write a piece, read it back, repeat; then close
	soakHalfClose                 // write everything without reading, half-close, read to the end
	soakSlowRead                  // write everything from a goroutine, read in small sips with pauses
	soakReset                     // write without reading, then reset: the server must just go on
	soakModes
)

func TestEchoSoak(t *testing.T) {
	for _, style := range []string{"callback", "flow"} {
		t.Run(style, func(t *testing.T) {
			addr := startEcho(t, echoConfig{loops: 2, style: style})
			errs := make(chan error, soakClients)
			for client := range soakClients {
				go func() {
					r := rand.New(rand.NewPCG(uint64(client), 7))
					for session := range soakSessions {
						mode := soakMode(r.IntN(int(soakModes)))
						if err := soakSession(addr, mode, r); err != nil {
							errs <- fmt.Errorf("client %d, session %d (mode %d): %w", client, session, mode, err)
							return
						}
					}
					errs <- nil
				}()
			}
			for range soakClients {
				if err := <-errs; err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// soakSession runs one connection in mode and checks what came back.
func soakSession(addr string, mode soakMode, r *rand.Rand) error {
	c, err := net.DialTimeout("tcp", addr, 30*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	pieces := make([][]byte, 1+r.IntN(8))
	total := 0
	for i := range pieces {
		pieces[i] = make([]byte, 1+r.IntN(256<<10))
		for j := range pieces[i] {
			pieces[i][j] = byte(r.Uint32())
		}
		total += len(pieces[i])
	}
	sent, got := sha256.New(), sha256.New()
	for _, p := range pieces {
		sent.Write(p)
	}
	switch mode {
	case soakPingPong:
		buf := make([]byte, 256<<10)
		for _, p := range pieces {
			if _, err := c.Write(p); err != nil {
				return err
			}
			if _, err := io.ReadFull(c, buf[:len(p)]); err != nil {
				return err
			}
			got.Write(buf[:len(p)])
		}
	case soakHalfClose:
		// Written from a goroutine: the echo stops reading while its
		// replies wait, so writing everything before reading would
		// deadlock once the socket buffers fill, as with any server.
		werr := make(chan error, 1)
		go func() {
			for _, p := range pieces {
				if _, err := c.Write(p); err != nil {
					werr <- err
					return
				}
			}
			werr <- c.(*net.TCPConn).CloseWrite()
		}()
		n, err := io.Copy(got, c)
		if err != nil {
			return fmt.Errorf("read %d of %d bytes, then %w", n, total, err)
		}
		if err := <-werr; err != nil {
			return err
		}
		if n != int64(total) {
			return fmt.Errorf("read %d of %d bytes and a clean end of stream", n, total)
		}
	case soakSlowRead:
		go func() {
			for _, p := range pieces {
				if _, err := c.Write(p); err != nil {
					return
				}
			}
		}()
		buf := make([]byte, soakSipMin+r.IntN(soakSipMax-soakSipMin+1))
		last := time.Now() // of the last byte read: a stall and a slow read differ there
		for left := total; left > 0; {
			n, err := c.Read(buf[:min(len(buf), left)])
			got.Write(buf[:n])
			left -= n
			if n > 0 {
				last = time.Now()
			}
			if err != nil {
				return fmt.Errorf("read %d of %d bytes in sips of %d, the last byte %v ago, then %w",
					total-left, total, len(buf), time.Since(last).Round(time.Millisecond), err)
			}
			if r.IntN(64) == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	case soakReset:
		c.SetWriteDeadline(time.Now().Add(20 * time.Millisecond))
		for _, p := range pieces {
			if _, err := c.Write(p); err != nil {
				break
			}
		}
		c.(*net.TCPConn).SetLinger(0)
		return nil
	}
	if string(got.Sum(nil)) != string(sent.Sum(nil)) {
		return errors.New("the bytes echoed differ from the bytes sent")
	}
	return nil
}
