//go:build !race

package main

// raceEnabled says this test binary has the race detector; the herd binary
// the tests build then has it too.
const raceEnabled = false
