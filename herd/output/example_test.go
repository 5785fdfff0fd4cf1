package output_test

import (
	"fmt"
	"io"
	"os"

	"github.com/cport/cport/herd/output"
	"github.com/cport/cport/herd/runner"
)

// Three hosts answer; two said the same, so gathering prints it once.
func Example() {
	p, _ := output.New(output.Gather, os.Stdout, os.Stdout, "")
	var results []runner.Result
	for _, h := range []string{"web01", "web02", "web03"} {
		stdout, _ := p.Start(h)
		say := "Linux 6.12\n"
		if h == "web03" {
			say = "Linux 5.10\n"
		}
		io.WriteString(stdout, say)
		r := runner.Result{Host: h, Class: runner.OK}
		p.Done(r)
		results = append(results, r)
	}
	code, _ := p.Finish(results)
	fmt.Println("exit", code)
	// Output:
	// ---------------------
	// web[01-02] (2) exit 0
	// ---------------------
	// Linux 6.12
	// ----------------
	// web03 (1) exit 0
	// ----------------
	// Linux 5.10
	// ok             3  web[01-03]
	// exit 0
}
