package port_test

import (
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"time"

	"github.com/cport/cport/port"
)

// The seed article's completion-port server, in four steps: create a key
// and map it to a callback, start an accept naming the key, poll for
// completed keys with a one-second timeout, look each key up and call its
// callback.
func Example() {
	runtime.LockOSThread() // the port belongs to this thread
	defer runtime.UnlockOSThread()
	p, err := port.Open(port.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	lfd, _ := port.ListenTCP(netip.MustParseAddrPort("127.0.0.1:0"))
	defer port.CloseSocket(lfd)
	addr, _ := port.LocalAddr(lfd)
	go net.Dial("tcp", addr.String()) // a client, from elsewhere

	callbacks := map[port.Key]func(port.Completion){}
	accepted := false
	onAccepted := func(c port.Completion) {
		peer, _ := port.PeerAddr(int(c.Res))
		port.CloseSocket(int(c.Res))
		fmt.Println("connected from", peer.Addr())
		accepted = true
	}

	key, _ := p.Register()          // 1. create a key…
	callbacks[key] = onAccepted     //    …and map it to a callback
	p.Submit(key, port.Accept(lfd)) // 2. start the accept, naming the key
	events := make([]port.Completion, 16)
	for !accepted {
		n, _ := p.Wait(events, time.Second) // 3. poll for completed keys
		for _, c := range events[:n] {
			callbacks[c.Key](c) // 4. look the key up and call back
		}
	}
	// Output: connected from 127.0.0.1
}

// The four steps with the cheapest operation: register a key, submit
// under it, wait, and match the completion to the key.
func ExamplePort_nop() {
	runtime.LockOSThread() // the port belongs to this thread (io_uring's single issuer)
	defer runtime.UnlockOSThread()
	p, err := port.Open(port.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()

	k, _ := p.Register()
	if err := p.Submit(k, port.Nop()); err != nil {
		fmt.Println(err)
		return
	}
	out := make([]port.Completion, 8)
	n, err := p.Wait(out, -1)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range out[:n] {
		fmt.Printf("ours=%v result=%d more=%v\n", c.Key == k, c.Res, c.More())
	}
	// Output: ours=true result=0 more=false
}
