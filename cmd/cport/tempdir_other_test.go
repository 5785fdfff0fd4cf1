//go:build !windows

package main

import "testing"

// tempDir is t.TempDir (see the Windows variant for why it exists).
func tempDir(t testing.TB) string { t.Helper(); return t.TempDir() }
