package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"

	"github.com/cport/cport/flow"
	"github.com/cport/cport/loop"
	"github.com/cport/cport/transport"
)

// loadTLS reads --tls CERT,KEY: PEM files of the certificate (chain) and
// its private key.
func loadTLS(spec string) (*tls.Config, error) {
	certFile, keyFile, ok := strings.Cut(spec, ",")
	if !ok || certFile == "" || keyFile == "" {
		return nil, fmt.Errorf("--tls %q: want CERT,KEY", spec)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("--tls: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}}, nil
}

// serveEchoTLS is serveEcho over TLS: the callback style's protocol runs
// unchanged on a flow.TLSServer, the flow style's code on a flow.TLSConn.
func serveEchoTLS(cfg echoConfig, g *loop.Group, lc transport.ListenConfig) (net.Addr, func(), error) {
	tcfg, err := loadTLS(cfg.tls)
	if err != nil {
		return nil, nil, err
	}
	if cfg.style == "callback" {
		s := &flow.TLSServer{
			Config:       tcfg,
			Factory:      func() transport.Protocol { return &echoProtocol{idle: cfg.idle} },
			ListenConfig: lc,
		}
		ln, err := s.Listen(g, "tcp", cfg.addr)
		if err != nil {
			return nil, nil, err
		}
		return ln.Addr(), func() { ln.Close() }, nil
	}
	ln, err := flow.ListenTLS(context.Background(), g, "tcp", cfg.addr, tcfg)
	if err != nil {
		return nil, nil, err
	}
	// As in serveEcho; the handshake runs in the connection's flow, at
	// its first Read.
	addr, stop := acceptEach(ln, func(c net.Conn) { flow.Go(flow.LoopOf(c), echoFlowStream(c)) })
	return addr, stop, nil
}
