//go:build !linux && !windows

package main

func closeFD(fd int) {}
