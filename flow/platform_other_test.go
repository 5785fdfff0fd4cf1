//go:build !windows

package flow_test

import "testing"

// skipIfNoGoUDP: Go's net makes UDP sockets here.
func skipIfNoGoUDP(testing.TB) {}
