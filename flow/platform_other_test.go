//go:build !windows

package flow_test

import "testing"

// skipIfNoGoUDP: Go's net makes UDP sockets here.
func skipIfNoGoUDP(testing.TB) {}

// tempDir is t.TempDir (see the Windows variant for why it exists).
func tempDir(t testing.TB) string { t.Helper(); return t.TempDir() }
