package main

import (
	"fmt"
	"net"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/cport/cport/herd/sshsession"
)

// sshFlags choose the ssh config file; with it, the connection flags of
// runFlags override the file only where given, as OpenSSH's options do.
type sshFlags struct {
	configFile    string
	maxHandshakes int
	flags         *pflag.FlagSet // to tell a flag given from its default
}

func (s *sshFlags) add(cmd *cobra.Command) {
	s.flags = cmd.Flags()
	cmd.Flags().StringVarP(&s.configFile, "config", "F", "", "ssh client config `FILE`, or none (default ~/.ssh/config, if it exists)")
	cmd.Flags().IntVar(&s.maxHandshakes, "max-handshakes", sshsession.DefaultMaxHandshakes, "connections being set up (connect, key exchange, login) at once; more wait their turn, which their connect timeout does not count")
}

// given reports whether the named flag was on the command line.
func (s *sshFlags) given(name string) bool { return s.flags != nil && s.flags.Changed(name) }

// hostConfig reads the ssh config file and puts the flags given over it.
func (f *runFlags) hostConfig() (*sshsession.HostConfig, error) {
	path, required := f.configFile, f.configFile != ""
	switch {
	case path == "none": // as ssh -F none: no config file at all
		path = ""
	case !required:
		path = sshsession.DefaultConfigPath()
	}
	// A key named with -i that cannot be read is a command-line error,
	// not one per host.
	for _, k := range f.keys {
		if _, err := sshsession.LoadKey(k); err != nil {
			return nil, fmt.Errorf("-i: %w", err)
		}
	}
	hc := &sshsession.HostConfig{DefaultConnectTimeout: f.connectTimeout, Identities: f.keys, KnownHosts: f.knownHosts}
	if path != "" {
		file, err := sshsession.LoadConfig(path, required)
		if err != nil {
			return nil, err
		}
		hc.File = file
	}
	if f.given("user") {
		hc.User = f.user
	}
	if f.given("port") {
		hc.Port = f.port
	}
	if f.given("connect-timeout") {
		hc.ConnectTimeout = f.connectTimeout
	}
	if f.given("accept-new") {
		hc.StrictHostKeyChecking = "yes"
		if f.acceptNew {
			hc.StrictHostKeyChecking = "accept-new"
		}
	}
	hc.Agent = agentAuth()
	return hc, nil
}

// agentAuth returns the ssh-agent at SSH_AUTH_SOCK, or nil without one.
func agentAuth() ssh.AuthMethod {
	sock := os.Getenv("SSH_AUTH_SOCK")
	if sock == "" {
		return nil
	}
	conn, err := net.Dial("unix", sock)
	if err != nil {
		return nil
	}
	return ssh.PublicKeysCallback(agent.NewClient(conn).Signers)
}
