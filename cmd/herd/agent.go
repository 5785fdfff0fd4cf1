package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/cport/cport/herd/agent"
	"github.com/cport/cport/herd/agentconn"
	"github.com/cport/cport/herd/nodeset"
	"github.com/cport/cport/herd/runner"
	"github.com/cport/cport/loop"
)

// agentFlags are herd run's options for reaching herd agents over mutual
// TLS instead of SSH.
type agentFlags struct {
	agent     bool
	caFile    string
	certFile  string
	keyFile   string
	agentPort int
}

func (a *agentFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.BoolVar(&a.agent, "agent", false, "reach the hosts' herd agents over mutual TLS instead of SSH")
	fl.StringVar(&a.caFile, "ca", "", "with --agent: the herd CA's certificate `FILE` (ca.crt), which agents' certificates must chain to")
	fl.StringVar(&a.certFile, "cert", "", "with --agent: this controller's certificate `FILE` (herd ca issue --controller)")
	fl.StringVar(&a.keyFile, "key", "", "with --agent: this controller's key `FILE`")
	fl.IntVar(&a.agentPort, "agent-port", agent.DefaultPort, "with --agent: the agents' port (host:port overrides)")
}

// sshOnly are run's flags that mean nothing to an agent.
var sshOnly = []string{"sudo", "guard", "raw", "identity", "known-hosts", "accept-new", "config", "user", "port"}

// agentConnector checks the agent flags and returns the connector to
// agents; settle has nothing to wait for: a dropped connection is what
// kills an agent's command.
func (f *runFlags) agentConnector(l *loop.Loop) (runner.Connector, error) {
	for _, name := range sshOnly {
		if f.given(name) {
			return nil, fmt.Errorf("--%s is for SSH; agents take none (an agent runs commands as its --user; give host:port or --agent-port)", name)
		}
	}
	if f.caFile == "" || f.certFile == "" || f.keyFile == "" {
		return nil, errors.New("--agent needs --ca, --cert and --key")
	}
	cfg, err := agentconn.ClientTLS(f.caFile, f.certFile, f.keyFile)
	if err != nil {
		return nil, err
	}
	return agentconn.New(agentconn.Config{Loop: l, TLS: cfg, Port: f.agentPort, MaxHandshakes: f.maxHandshakes})
}

// newAgentCmd is herd agent, the daemon.
func newAgentCmd(stderr io.Writer) *cobra.Command {
	var listen []string
	var port int
	var caFile, certFile, keyFile, runAs, logLevel string
	var loops int
	cfg := agent.Config{}
	cmd := &cobra.Command{
		Use:   "agent --listen ADDR --ca FILE --cert FILE --key FILE",
		Short: "Serve herd controllers over mutual TLS: run their commands on this host",
		Long: `herd agent runs commands for herd controllers (herd run --agent). It accepts only
clients whose certificate its CA signed for the controller role, and logs each
refusal. A command runs in its own process group, killed whole on its timeout,
on cancel, or when the controller's connection is lost.`,
		Example: `  herd agent --listen :7722 --ca ca.crt --cert web01.crt --key web01.key
  herd agent --listen '127.0.1.[1-250]' --ca ca.crt --cert lab1.crt --key lab1.key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if caFile == "" || certFile == "" || keyFile == "" {
				return errors.New("agent: --ca, --cert and --key are required")
			}
			addrs, err := listenAddrs(listen, port)
			if err != nil {
				return err
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("agent: --log-level: %w", err)
			}
			cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
			if runAs != "" {
				if err := agent.CanRunAs(); err != nil {
					return err
				}
				if cfg.RunAs, err = agent.LookupUser(runAs); err != nil {
					return fmt.Errorf("agent: --user: %w", err)
				}
			}
			if cfg.TLS, err = agent.ServerTLS(caFile, certFile, keyFile); err != nil {
				return err
			}
			return serveAgent(cfg, addrs, loops, stderr)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&listen, "listen", []string{":" + strconv.Itoa(agent.DefaultPort)}, "listen on `ADDR`, host:port, or a node set of addresses on --port (repeatable)")
	fl.IntVar(&port, "port", agent.DefaultPort, "port for --listen addresses that name none")
	fl.StringVar(&caFile, "ca", "", "the herd CA's certificate `FILE`: controllers' certificates must chain to it")
	fl.StringVar(&certFile, "cert", "", "this agent's certificate `FILE` (herd ca issue --agent)")
	fl.StringVar(&keyFile, "key", "", "this agent's key `FILE`")
	fl.StringVar(&runAs, "user", "", "run commands as `NAME` (the agent must run as root)")
	fl.StringVar(&logLevel, "log-level", "info", "log level: debug (every connection), info, warn (refusals), error")
	fl.DurationVar(&cfg.HandshakeTimeout, "handshake-timeout", agent.DefaultHandshakeTimeout, "time a client has to finish the TLS handshake")
	fl.DurationVar(&cfg.IdleTimeout, "idle-timeout", agent.DefaultIdleTimeout, "close connections idle this long, with no command running")
	fl.IntVar(&cfg.MaxCommands, "max-commands", agent.DefaultMaxCommands, "commands running at once per connection")
	fl.IntVar(&cfg.MaxMessage, "max-message", agent.DefaultMaxMessage, "largest message accepted from a controller, in bytes")
	fl.IntVar(&cfg.MaxHandshakes, "max-handshakes", agent.DefaultMaxHandshakes, "TLS handshakes in progress at once per event loop; more wait their turn")
	fl.IntVar(&loops, "loops", min(runtime.NumCPU(), 4), "event loops serving connections")
	return cmd
}

// listenAddrs expands --listen values: host:port as is, else a node set
// of hosts, each on port.
func listenAddrs(specs []string, port int) ([]string, error) {
	var addrs []string
	for _, s := range specs {
		if _, _, err := net.SplitHostPort(s); err == nil {
			addrs = append(addrs, s)
			continue
		}
		set, err := new(nodeset.Parser).Parse(s)
		if err != nil {
			return nil, fmt.Errorf("agent: --listen %s: %w", s, err)
		}
		for _, h := range set.Names() {
			addrs = append(addrs, net.JoinHostPort(h, strconv.Itoa(port)))
		}
	}
	if len(addrs) == 0 {
		return nil, errors.New("agent: nothing to listen on")
	}
	return addrs, nil
}

// serveAgent listens on addrs and serves until SIGINT or SIGTERM.
func serveAgent(cfg agent.Config, addrs []string, loops int, stderr io.Writer) error {
	raiseFileLimit()
	srv, err := agent.New(cfg)
	if err != nil {
		return err
	}
	g, err := loop.NewGroup(max(loops, 1), loop.Config{})
	if err != nil {
		return err
	}
	defer g.Close()
	var lns []net.Listener
	closeAll := func() {
		for _, ln := range lns {
			ln.Close()
		}
	}
	for _, a := range addrs {
		ln, err := srv.Listen(context.Background(), g, a)
		if err != nil {
			closeAll()
			return fmt.Errorf("agent: listen %s: %w", a, err)
		}
		lns = append(lns, ln)
	}
	if len(lns) == 1 {
		fmt.Fprintf(stderr, "herd agent %s listening on %s\n", agent.Version, lns[0].Addr())
	} else {
		fmt.Fprintf(stderr, "herd agent %s listening on %d addresses, %s to %s\n", agent.Version, len(lns), lns[0].Addr(), lns[len(lns)-1].Addr())
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	failed := make(chan error, len(lns))
	var wg sync.WaitGroup
	for _, ln := range lns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(ln); err != nil {
				failed <- err
			}
		}()
	}
	select {
	case sig := <-sigs:
		fmt.Fprintf(stderr, "herd agent: %v: stopping, killing running commands\n", sig)
		err = nil
	case err = <-failed:
	}
	closeAll()
	wg.Wait()
	srv.Close(5 * time.Second)
	return err
}
