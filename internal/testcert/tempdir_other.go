//go:build !windows

package testcert

import "testing"

// TempDir is t.TempDir (see the Windows variant for why it exists): a
// directory for the certificate files, removed at the end of the test.
func TempDir(t testing.TB) string { t.Helper(); return t.TempDir() }
