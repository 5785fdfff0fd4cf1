package sshsession

import (
	"os"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh/knownhosts"
)

func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}

func appendFile(t testing.TB, path, data string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
}

func knownhostsLineHost(addr string) string {
	return strings.Fields(knownhosts.Normalize(addr))[0]
}
