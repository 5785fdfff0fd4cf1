package mapper_test

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/cport/cport/herd/mapper"
	"github.com/cport/cport/herd/runner"
	"github.com/cport/cport/loop"
)

// shout is a Connector whose sessions print their command in capitals;
// host "down" cannot be reached.
type shout struct{}

func (shout) Connect(_ context.Context, host string) (runner.Session, error) {
	if host == "down" {
		return nil, fmt.Errorf("%s: connection refused", host)
	}
	return shoutSession{}, nil
}

type shoutSession struct{}

func (shoutSession) Run(_ context.Context, cmd string, stdout, _ io.Writer) (int, error) {
	fmt.Fprintln(stdout, strings.ToUpper(cmd))
	return 0, nil
}

func (shoutSession) Close() error { return nil }

func Example() {
	l, _ := loop.Start(loop.Config{})
	defer l.Close()
	jobs := []mapper.Job{{Seq: 1, Command: "one"}, {Seq: 2, Command: "two"}, {Seq: 3, Command: "three"}}
	results, failures, _ := mapper.Run(context.Background(), l, shout{}, []string{"down", "web01"}, jobs, mapper.Config{Slots: 2})
	for _, r := range results {
		fmt.Printf("job %d on %s: %s", r.Seq, r.Host, r.Stdout)
	}
	fmt.Println("failed hosts:", len(failures), failures[0].Host)
	// Output:
	// job 1 on web01: ONE
	// job 2 on web01: TWO
	// job 3 on web01: THREE
	// failed hosts: 1 down
}
