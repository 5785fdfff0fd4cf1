package transport_test

import (
	"fmt"
	"io"
	"net"

	"github.com/cport/cport/loop"
	"github.com/cport/cport/transport"
)

// upper answers each chunk it receives in capitals, and closes when the
// client has sent everything.
type upper struct {
	transport.BaseProtocol
	t transport.Transport
}

func (u *upper) ConnectionMade(t transport.Transport) { u.t = t }

func (u *upper) DataReceived(data []byte) {
	out := make([]byte, len(data))
	for i, b := range data {
		if 'a' <= b && b <= 'z' {
			b -= 'a' - 'A'
		}
		out[i] = b
	}
	u.t.Write(out)
}

func Example() {
	g, err := loop.NewGroup(1, loop.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer g.Close()
	ln, err := transport.Listen(g, "tcp", "127.0.0.1:0", func() transport.Protocol { return &upper{} })
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()

	c, _ := net.Dial("tcp", ln.Addr().String())
	c.Write([]byte("hello, transports"))
	c.(*net.TCPConn).CloseWrite() // EOFReceived returns false: the server closes
	reply, _ := io.ReadAll(c)
	fmt.Println(string(reply))
	// Output: HELLO, TRANSPORTS
}
