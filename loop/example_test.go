package loop_test

import (
	"fmt"
	"time"

	"github.com/cport/cport/loop"
	"github.com/cport/cport/port"
)

// A loop's life: map a key to a callback and start an operation under it,
// arm a timer from the callback, post work from another goroutine, close.
func ExampleLoop() {
	l, err := loop.Start(loop.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fired, posted := make(chan struct{}), make(chan struct{})
	l.Post(func() { // Register and Submit run on the loop
		var k port.Key
		k, _ = l.Register(func(c port.Completion) {
			fmt.Println("timeout operation completed:", c.Err())
			l.Release(k)
			l.CallLater(time.Millisecond, func() {
				fmt.Println("timer fired")
				close(fired)
			})
		})
		l.Submit(k, port.Timeout(time.Millisecond))
	})
	<-fired
	go l.Post(func() {
		fmt.Println("posted from another goroutine; on the loop:", l.InLoop())
		close(posted)
	})
	<-posted
	fmt.Println("on the loop here:", l.InLoop())
	fmt.Println("close:", l.Close())
	// Output:
	// timeout operation completed: timer expired
	// timer fired
	// posted from another goroutine; on the loop: true
	// on the loop here: false
	// close: <nil>
}
