package port_test

import (
	"bytes"
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cport/cport/port"
)

// readN reads exactly n bytes from fd, outside the port.
func readN(t *testing.T, fd, n int) []byte {
	t.Helper()
	got := make([]byte, 0, n)
	buf := make([]byte, 64<<10)
	for len(got) < n {
		k, err := unix.Read(fd, buf[:min(len(buf), n-len(got))])
		if err != nil || k == 0 {
			t.Fatalf("read after %d of %d bytes: %d, %v", len(got), n, k, err)
		}
		got = append(got, buf[:k]...)
	}
	return got
}

// openSendNowPort opens a port and skips the test where sends are
// operations only, after checking that SendNow says so.
func openSendNowPort(t *testing.T) *testPort {
	p := openPort(t, port.Config{})
	if p.Backend() != "epoll" {
		if p.SendsNow() {
			t.Fatalf("SendsNow on %s, want false", p.Backend())
		}
		if _, err := p.SendNow(0, []byte("x")); !errors.Is(err, port.ErrUnsupported) {
			t.Fatalf("SendNow on %s: %v, want ErrUnsupported", p.Backend(), err)
		}
		t.Skipf("%s sends through operations only", p.Backend())
	}
	if !p.SendsNow() {
		t.Fatal("SendsNow on epoll = false")
	}
	return p
}

func TestSendNow(t *testing.T) {
	p := openSendNowPort(t)
	fd, peer := streamPair(t, p)
	if n, err := p.SendNow(fd, []byte("ping")); n != 4 || err != nil {
		t.Fatalf("SendNow = %d, %v; want 4, nil", n, err)
	}
	if got := readN(t, peer.fd, 4); string(got) != "ping" {
		t.Fatalf("peer read %q, want ping", got)
	}
	bufs := [][]byte{[]byte("head "), nil, []byte("body")}
	if n, err := p.SendMsgNow(fd, bufs); n != 9 || err != nil {
		t.Fatalf("SendMsgNow = %d, %v; want 9, nil", n, err)
	}
	if got := readN(t, peer.fd, 9); string(got) != "head body" {
		t.Fatalf("peer read %q, want \"head body\"", got)
	}
	if n, err := p.SendMsgNow(fd, [][]byte{nil}); n != 0 || err != nil {
		t.Fatalf("SendMsgNow of nothing = %d, %v; want 0, nil", n, err)
	}
}

// A socket whose buffer fills takes part of a send now; the Send submitted
// for the rest waits for the peer to read, and the bytes arrive in order.
func TestSendNowFullBuffer(t *testing.T) {
	p := openSendNowPort(t)
	fd, peer := streamPair(t, p)
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4096); err != nil {
		t.Fatal(err)
	}
	// A receive in flight has the backend watching the socket, as a
	// connection's would.
	rk := p.register()
	p.submit(rk, port.Recv(fd, make([]byte, 16)))

	msg := pattern(1 << 20)
	sent := 0
	for sent < len(msg) {
		n, err := p.SendNow(fd, msg[sent:])
		if err != nil {
			t.Fatalf("SendNow after %d bytes: %v", sent, err)
		}
		if n == 0 {
			break
		}
		sent += n
	}
	if sent == 0 || sent == len(msg) {
		t.Fatalf("SendNow took %d of %d bytes into a 4 KiB send buffer, want some but not all", sent, len(msg))
	}
	if n, err := p.SendNow(fd, msg[sent:]); n != 0 || err != nil {
		t.Fatalf("SendNow on a full socket = %d, %v; want 0, nil", n, err)
	}
	sk := p.register()
	p.submit(sk, port.Send(fd, msg[sent:]))
	if n, err := p.Wait(make([]port.Completion, 4), 0); n != 0 || err != nil {
		t.Fatalf("Wait(0) with the socket full = %d, %v; want 0, nil", n, err)
	}
	got := make(chan []byte, 1)
	go func() {
		var all []byte
		buf := make([]byte, 64<<10)
		for len(all) < len(msg) {
			k, err := unix.Read(peer.fd, buf)
			if err != nil || k == 0 {
				break
			}
			all = append(all, buf[:k]...)
		}
		got <- all
	}()
	for sent < len(msg) {
		c := p.waitKey(sk)
		if c.Res <= 0 {
			t.Fatalf("Send after %d bytes: %+v", sent, c)
		}
		sent += int(c.Res)
		if sent < len(msg) {
			p.submit(sk, port.Send(fd, msg[sent:]))
		}
	}
	if all := <-got; !bytes.Equal(all, msg) {
		t.Fatalf("peer read %d bytes, want the %d sent, in order", len(all), len(msg))
	}
	p.Cancel(rk)
	p.waitKey(rk)
}

func TestSendNowPeerGone(t *testing.T) {
	p := openSendNowPort(t)
	fd, peer := streamPair(t, p)
	peer.close()
	_, err := p.SendNow(fd, []byte("late"))
	if !errors.Is(err, unix.EPIPE) {
		t.Fatalf("SendNow to a closed peer: %v, want EPIPE", err)
	}
	if _, err := p.SendMsgNow(fd, [][]byte{[]byte("late")}); !errors.Is(err, unix.EPIPE) {
		t.Fatalf("SendMsgNow to a closed peer: %v, want EPIPE", err)
	}
}

func TestSendNowClosedPort(t *testing.T) {
	p := openSendNowPort(t)
	fd, _ := streamPair(t, p)
	p.Close()
	if _, err := p.SendNow(fd, []byte("x")); !errors.Is(err, port.ErrClosed) {
		t.Fatalf("SendNow on a closed port: %v, want ErrClosed", err)
	}
}
