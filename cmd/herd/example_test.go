package main

import "os"

// herd hosts folds and counts a node set.
func Example() {
	run([]string{"hosts", "rack[1-2]-node[01-16]!rack2-node[09-16]"}, nil, os.Stdout, os.Stderr)
	// Output:
	// rack1-node[01-16],rack2-node[01-08]
	// 24
}
