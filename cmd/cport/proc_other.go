//go:build !linux

package main

import (
	"errors"
	"time"
)

var errNoProc = errors.New("reading another process's CPU and memory needs Linux's /proc")

func serverCPU(pid int) (time.Duration, error) {
	if pid <= 0 {
		return 0, nil
	}
	return 0, errNoProc
}

type procMem struct{ rss, pss int64 }

func serverMem(pid int) (procMem, error) { return procMem{}, errNoProc }

func serverFDs(pid int) (int, error) { return 0, errNoProc }
