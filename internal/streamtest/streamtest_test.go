package streamtest_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/cport/cport/internal/streamtest"
)

func ExampleReadToEnd() {
	a, b := net.Pipe()
	go func() {
		a.Write([]byte("hello"))
		a.Close()
	}()
	got, err := streamtest.ReadToEnd(b, time.Second)
	fmt.Println(string(got), err)
	// Output: hello <nil>
}

// A peer that trickles bytes for longer than one stall period is read to
// its end; a peer that stops is a timeout.
func TestReadToEndMovesTheDeadline(t *testing.T) {
	a, b := net.Pipe()
	go func() {
		for range 5 {
			time.Sleep(40 * time.Millisecond)
			a.Write([]byte("x"))
		}
		a.Close()
	}()
	// 200 ms of trickle, read with a 100 ms stall guard: never a stall.
	got, err := streamtest.ReadToEnd(b, 100*time.Millisecond)
	if err != nil || string(got) != "xxxxx" {
		t.Fatalf("got %q, %v; want xxxxx and a clean end", got, err)
	}

	c, d := net.Pipe()
	defer c.Close()
	go c.Write([]byte("y"))
	got, err = streamtest.ReadToEnd(d, 50*time.Millisecond)
	if !errors.Is(err, os.ErrDeadlineExceeded) || string(got) != "y" {
		t.Fatalf("a peer that stopped: got %q, %v; want y and a timeout", got, err)
	}
}
