package timerheap_test

import (
	"fmt"

	"github.com/cport/cport/internal/timerheap"
)

func Example() {
	var h timerheap.Heap
	h.Push(7, 300) // id 7 due at 300
	h.Push(3, 100)
	h.Push(9, 100) // same deadline as id 3, pushed later
	h.Remove(7)    // cancelled
	for h.Len() > 0 {
		e, _ := h.Top()
		h.Remove(e.ID)
		fmt.Println(e.ID, e.When)
	}
	// Output:
	// 3 100
	// 9 100
}
