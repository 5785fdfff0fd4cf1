package jsonrpc_test

import (
	"context"
	"fmt"

	"github.com/cport/cport/jsonrpc"
)

func Example() {
	var s jsonrpc.Server
	s.Register("add", func(_ context.Context, p [2]int) (int, error) { return p[0] + p[1], nil })
	reply := s.Handle(context.Background(), []byte(`{"jsonrpc":"2.0","method":"add","params":[2,3],"id":1}`))
	fmt.Println(string(reply))
	// Output: {"jsonrpc":"2.0","result":5,"id":1}
}
