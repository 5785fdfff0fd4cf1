// Package example holds small programs that use cport as a program
// outside the repository would: a module of their own that imports only
// cport's public packages (CI builds and vets it, so the public API is
// enough for them).
//
//	go run ./echo --addr 127.0.0.1:7000
//	go run ./httpserver --addr 127.0.0.1:8080 [--tls CERT,KEY]
package example
