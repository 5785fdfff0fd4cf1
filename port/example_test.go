package port_test

import (
	"fmt"
	"runtime"

	"github.com/cport/cport/port"
)

// The four steps of the completion-port model with the cheapest
// operation: register a key, submit under it, wait, and match the
// completion to the key.
func ExamplePort_nop() {
	runtime.LockOSThread() // the port belongs to this thread (io_uring's single issuer)
	defer runtime.UnlockOSThread()

	p, err := port.Open(port.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()

	k, err := p.Register()
	if err != nil {
		fmt.Println(err)
		return
	}
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
