package flow_test

import (
	"fmt"
	"time"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/loop"
)

// Two flows on one loop hand numbers over a queue: each reads top to
// bottom, and each blocks (parks) only at Put and Get.
func Example() {
	l, err := loop.Start(loop.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()

	q := flow.NewQueue[int](1)
	flow.Go(l, func(f *flow.Flow) {
		for i := 1; i <= 3; i++ {
			q.Put(f.Context(), i*i)
			f.Sleep(time.Millisecond)
		}
		q.Close()
	})
	consumer := flow.Go(l, func(f *flow.Flow) {
		for {
			v, err := q.Get(f.Context())
			if err != nil {
				fmt.Println("done:", err)
				return
			}
			fmt.Println("got", v)
		}
	})
	consumer.Wait()
	// Output:
	// got 1
	// got 4
	// got 9
	// done: flow: queue closed
}
