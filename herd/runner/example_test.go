package runner_test

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/cport/cport/herd/runner"
	"github.com/cport/cport/loop"
)

// echoNet is a Connector whose sessions print the command back.
type echoNet struct{}

func (echoNet) Connect(ctx context.Context, host string) (runner.Session, error) {
	if strings.HasPrefix(host, "down") {
		return nil, fmt.Errorf("%s: connection refused", host)
	}
	return echoSession(host), nil
}

type echoSession string

func (s echoSession) Run(ctx context.Context, cmd string, stdout, stderr io.Writer) (int, error) {
	fmt.Fprintf(stdout, "%s ran %s\n", s, cmd)
	return 0, nil
}

func (echoSession) Close() error { return nil }

func Example() {
	l, err := loop.Start(loop.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	r := runner.New(echoNet{}, nil, runner.Config{Fanout: 2, Retries: -1})
	results, err := r.Run(l, []string{"web1", "web2", "down1"}, "uptime")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, res := range results {
		fmt.Println(res.Host, res.Class, res.Exit, res.Err)
	}
	// Output:
	// web1 ok 0 <nil>
	// web2 ok 0 <nil>
	// down1 unreachable -1 down1: connection refused
}
