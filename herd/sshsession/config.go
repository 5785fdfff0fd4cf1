package sshsession

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kevinburke/ssh_config"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/cport/cport/herd/runner"
)

// HostConfig is what herd knows of hosts beyond their names: an OpenSSH
// client config file (~/.ssh/config or -F) and the command line's options,
// which override the file's, as OpenSSH's do. A name's own user@ and :port
// override both. When Config.Hosts is set, the Connector takes each host's
// user, port, keys, host key checking, connect timeout and jump hosts from
// it, and ignores Config.Auth and Config.HostKey.
//
// The zero value of each command-line field means "not given": the config
// file's value applies, else the default.
type HostConfig struct {
	File *ssh_config.Config // nil: no config file

	User                  string        // -l
	Port                  int           // -p
	Identities            []string      // -i; tried before the file's IdentityFile
	KnownHosts            []string      // --known-hosts
	StrictHostKeyChecking string        // "yes", "accept-new" or "no"
	ConnectTimeout        time.Duration // --connect-timeout

	// Agent, if not nil, is offered before any key file (ssh-agent).
	Agent ssh.AuthMethod
	// DefaultConnectTimeout applies when neither the command line nor the
	// file sets one; 0 leaves it to the caller's context.
	DefaultConnectTimeout time.Duration

	mu      sync.Mutex
	signers map[string]ssh.Signer          // loaded key files, by path
	checks  map[string]ssh.HostKeyCallback // host key callbacks, by mode and files
}

// DefaultConfigPath returns ~/.ssh/config, or "" without a home directory.
func DefaultConfigPath() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".ssh", "config")
}

// LoadConfig reads an OpenSSH client config file. A missing file is an
// error only when required (given with -F): OpenSSH reads ~/.ssh/config
// only if it exists.
func LoadConfig(path string, required bool) (*ssh_config.Config, error) {
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) && !required {
			return nil, nil
		}
		return nil, fmt.Errorf("ssh config: %w", err)
	}
	defer f.Close()
	cfg, err := ssh_config.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("ssh config %s: %w", path, err)
	}
	return cfg, nil
}

// get returns the file's value of key for alias, or "" when there is none.
func (h *HostConfig) get(alias, key string) string {
	if h.File == nil {
		return ""
	}
	v, _ := h.File.Get(alias, key)
	return v
}

func (h *HostConfig) getAll(alias, key string) []string {
	if h.File == nil {
		return nil
	}
	v, _ := h.File.GetAll(alias, key)
	return v
}

// ConnectTimeoutFor returns the connect timeout of host: the command
// line's, else the file's ConnectTimeout, else the default.
func (h *HostConfig) ConnectTimeoutFor(name string) time.Duration {
	if h.ConnectTimeout > 0 {
		return h.ConnectTimeout
	}
	_, alias, _, err := SplitHost(name)
	if err == nil {
		if v := h.get(alias, "ConnectTimeout"); v != "" {
			if s, err := strconv.Atoi(v); err == nil && s > 0 {
				return time.Duration(s) * time.Second
			}
		}
	}
	return h.DefaultConnectTimeout
}

// endpoint is one SSH server on the way to a host: a jump host or the
// host itself.
type endpoint struct {
	name    string // as given, for errors
	user    string
	addr    string // host:port to reach, also the name checked in known_hosts
	auth    []ssh.AuthMethod
	hostKey ssh.HostKeyCallback
}

// maxJumps bounds a ProxyJump chain, which a config file can make loop.
const maxJumps = 8

// route returns the servers to go through to reach name, the last being
// name's own, and the connect timeout to apply (0: the caller's).
func (c *Connector) route(name string) ([]endpoint, time.Duration, error) {
	h := c.cfg.Hosts
	if h == nil {
		ep, err := c.plainEndpoint(name)
		return []endpoint{ep}, 0, err
	}
	chain, err := c.chain(name, 0, true)
	return chain, h.ConnectTimeoutFor(name), err
}

// plainEndpoint resolves name without a config: the Connector's defaults.
func (c *Connector) plainEndpoint(name string) (endpoint, error) {
	user, host, port, err := SplitHost(name)
	if err != nil {
		return endpoint{}, err
	}
	if user == "" {
		user = c.cfg.User
	}
	if port == 0 {
		port = c.cfg.Port
	}
	return endpoint{name: name, user: user, addr: net.JoinHostPort(host, strconv.Itoa(port)),
		auth: c.cfg.Auth, hostKey: c.cfg.HostKey}, nil
}

// chain resolves name and, if jumps, the ProxyJump hosts before it. As
// with OpenSSH's -J, the first hop's own ProxyJump applies and the
// others' do not. depth is 0 for the target, more for jump hosts.
func (c *Connector) chain(name string, depth int, jumps bool) ([]endpoint, error) {
	if depth > maxJumps {
		return nil, fmt.Errorf("%s: more than %d ProxyJump hops (a loop in the ssh config?)", name, maxJumps)
	}
	ep, alias, err := c.endpoint(name, depth > 0)
	if err != nil {
		return nil, err
	}
	spec := c.cfg.Hosts.get(alias, "ProxyJump")
	if !jumps || spec == "" || strings.EqualFold(spec, "none") {
		return []endpoint{ep}, nil
	}
	var out []endpoint
	for i, hop := range strings.Split(spec, ",") {
		hop = strings.TrimPrefix(strings.TrimSpace(hop), "ssh://")
		if hop == "" {
			return nil, fmt.Errorf("%s: empty hop in ProxyJump %q", name, spec)
		}
		eps, err := c.chain(hop, depth+1, i == 0)
		if err != nil {
			return nil, fmt.Errorf("ProxyJump of %s: %w", name, err)
		}
		out = append(out, eps...)
	}
	return append(out, ep), nil
}

// endpoint resolves one name through the config file and the command
// line, and returns it with its config alias (the name's host part). As
// with ssh -J, -l and -p are the target's: a jump host takes its user and
// port from its name and the file. Keys and host key checking apply to all.
func (c *Connector) endpoint(name string, jumpHost bool) (endpoint, string, error) {
	h := c.cfg.Hosts
	user, alias, port, err := SplitHost(name)
	if err != nil {
		return endpoint{}, "", err
	}
	host := alias
	if v := h.get(alias, "HostName"); v != "" {
		host = strings.ReplaceAll(v, "%h", alias)
	}
	if user == "" && !jumpHost {
		user = h.User
	}
	if user == "" {
		user = first(h.get(alias, "User"), c.cfg.User)
	}
	if port == 0 && !jumpHost {
		port = h.Port
	}
	if port == 0 {
		if v := h.get(alias, "Port"); v != "" {
			port, err = strconv.Atoi(v)
			if err != nil || port <= 0 || port > 65535 {
				return endpoint{}, "", fmt.Errorf("%s: bad Port %q in the ssh config", name, v)
			}
		}
	}
	if port == 0 {
		port = c.cfg.Port
	}
	ep := endpoint{name: name, user: user, addr: net.JoinHostPort(host, strconv.Itoa(port))}
	home, _ := os.UserHomeDir()
	expand := strings.NewReplacer("%h", host, "%r", user, "%u", os.Getenv("USER"), "%p", strconv.Itoa(port), "%d", home, "%%", "%")

	ids := append([]string(nil), h.Identities...)
	for _, f := range h.getAll(alias, "IdentityFile") {
		ids = append(ids, expandHome(expand.Replace(f)))
	}
	if ep.auth, err = h.auth(ids); err != nil {
		return endpoint{}, "", fmt.Errorf("%s: %w", name, err)
	}

	known := h.KnownHosts
	if len(known) == 0 {
		for _, f := range strings.Fields(h.get(alias, "UserKnownHostsFile")) {
			known = append(known, expandHome(expand.Replace(f)))
		}
	}
	if len(known) == 0 {
		known = []string{expandHome("~/.ssh/known_hosts")}
	}
	strict := first(h.StrictHostKeyChecking, strings.ToLower(h.get(alias, "StrictHostKeyChecking")), "yes")
	if ep.hostKey, err = h.hostKey(strict, known); err != nil {
		return endpoint{}, "", fmt.Errorf("%s: %w", name, err)
	}
	return ep, alias, nil
}

// auth returns the agent, then the keys of ids, or the default keys when
// ids is empty. A missing default key is skipped; a named one is an error.
func (h *HostConfig) auth(ids []string) ([]ssh.AuthMethod, error) {
	if len(ids) == 0 {
		for _, k := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			ids = append(ids, expandHome("~/.ssh/"+k))
		}
	}
	var signers []ssh.Signer
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.signers == nil {
		h.signers = map[string]ssh.Signer{}
	}
	for _, id := range ids {
		s, ok := h.signers[id]
		if !ok {
			var err error
			// LoadKey offers KEY-cert.pub, the key's certificate, if it
			// lies beside the key.
			if s, err = LoadKey(id); err != nil {
				if contains(h.Identities, id) {
					return nil, fmt.Errorf("identity: %w", err)
				}
				continue // as OpenSSH, skip a default or config key it cannot use
			}
			h.signers[id] = s
		}
		signers = append(signers, s)
	}
	var methods []ssh.AuthMethod
	if h.Agent != nil {
		methods = append(methods, h.Agent)
	}
	if len(signers) > 0 {
		methods = append(methods, ssh.PublicKeys(signers...))
	}
	if len(methods) == 0 {
		return nil, &runner.ClassError{Class: runner.AuthFailed,
			Err: errors.New("no credentials: no ssh-agent (SSH_AUTH_SOCK) and no readable key (IdentityFile, -i or ~/.ssh/id_*)")}
	}
	return methods, nil
}

// hostKey returns the (shared) host key callback for a checking mode and
// known_hosts files.
func (h *HostConfig) hostKey(strict string, files []string) (ssh.HostKeyCallback, error) {
	switch strict {
	case "yes", "ask", "accept-new", "no", "off":
	default:
		return nil, fmt.Errorf("StrictHostKeyChecking %q: want yes, accept-new or no", strict)
	}
	key := strict + "\x00" + strings.Join(files, "\x00")
	h.mu.Lock()
	defer h.mu.Unlock()
	if cb, ok := h.checks[key]; ok {
		return cb, nil
	}
	// "ask" cannot ask here: herd has no one to ask, so it is "yes".
	cb, err := KnownHosts(strict == "accept-new" || strict == "no" || strict == "off", files...)
	if err != nil {
		return nil, fmt.Errorf("known_hosts: %w", err)
	}
	if strict == "no" || strict == "off" {
		cb = ignoreChangedKeys(cb)
	}
	if h.checks == nil {
		h.checks = map[string]ssh.HostKeyCallback{}
	}
	h.checks[key] = cb
	return cb, nil
}

// ignoreChangedKeys lets a changed host key through, as
// StrictHostKeyChecking=no asks; unknown keys are still recorded by check.
func ignoreChangedKeys(check ssh.HostKeyCallback) ssh.HostKeyCallback {
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := check(hostname, remote, key)
		var keyErr *knownhosts.KeyError
		if errors.As(err, &keyErr) && len(keyErr.Want) > 0 {
			return nil
		}
		return err
	}
}

// first returns the first non-empty string.
func first(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// expandHome replaces a leading ~/ with the home directory.
func expandHome(path string) string {
	if rest, ok := strings.CutPrefix(path, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return path
}
