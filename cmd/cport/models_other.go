//go:build !linux

package main

import (
	"fmt"
	"io"
	"runtime"
)

// The models bench reads other processes' CPU and memory from /proc, pins
// with sched_setaffinity and blocks threads in read(2): Linux only.
func errModelsUnsupported() error {
	return fmt.Errorf("bench models is unsupported on %s: it needs Linux's /proc and sched_setaffinity", runtime.GOOS)
}

func benchModels(cfg modelsConfig, stdout io.Writer) ([][]modelResult, error) {
	return nil, errModelsUnsupported()
}

func runServeModel(args []string, stdout io.Writer) error  { return errModelsUnsupported() }
func runModelConn(args []string, stdout io.Writer) error   { return errModelsUnsupported() }
func runModelSwitch(args []string, stdout io.Writer) error { return errModelsUnsupported() }
