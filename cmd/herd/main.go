// Command herd runs commands on many machines over SSH from one process:
// each host is a flow on a cport loop, so thousands of sessions cost a few
// threads. Targets are node sets as clush and pdsh write them.
//
//	herd hosts 'web[01-20]!web13'
//	herd run 'web[01-20],@db' -- uptime
//	herd run -b --timeout 30s @all -- 'uname -r'
//	herd push 'web[01-20]' ./app.conf /etc/app/
//	herd pull @db /var/log/mysql.log ./logs
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cport/cport/herd/nodeset"
	"github.com/cport/cport/herd/output"
	"github.com/cport/cport/herd/runner"
	"github.com/cport/cport/herd/sshsession"
	"github.com/cport/cport/loop"
)

// exitUsage is the exit status of a command line herd cannot act on.
const exitUsage = 64

// exitError carries an exit status out of a subcommand.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is main without the process: the tests call it.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRoot(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	}
	var se *nodeset.SyntaxError
	if errors.As(err, &se) {
		fmt.Fprintf(stderr, "herd: %s\n", strings.ReplaceAll(se.Caret(), "\n", "\n      "))
	} else {
		fmt.Fprintf(stderr, "herd: %v\n", err)
	}
	return exitUsage
}

// targetFlags select hosts; both subcommands share them.
type targetFlags struct {
	inventory string
	hostfiles []string
	exclude   []string
}

func (t *targetFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&t.inventory, "inventory", "", "group file for @group (default $HERD_INVENTORY or ~/.config/herd/groups)")
	cmd.Flags().StringArrayVar(&t.hostfiles, "hostfile", nil, "read hosts from `FILE`, one node set a line, # comments (repeatable)")
	cmd.Flags().StringArrayVarP(&t.exclude, "exclude", "x", nil, "leave out the node set `EXPR` (repeatable)")
}

// resolve parses the target expressions, host files and exclusions.
func (t *targetFlags) resolve(exprs []string) (*nodeset.Set, error) {
	path := t.inventory
	if path == "" {
		path = nodeset.DefaultInventoryPath()
	}
	var p nodeset.Parser
	if path != "" {
		inv, err := nodeset.LoadInventory(path)
		if err != nil {
			return nil, fmt.Errorf("inventory: %w", err)
		}
		p.Groups = inv
	}
	set := nodeset.New()
	for _, e := range exprs {
		s, err := p.Parse(e)
		if err != nil {
			return nil, err
		}
		set.AddSet(s)
	}
	for _, hf := range t.hostfiles {
		f, err := os.Open(hf)
		if err != nil {
			return nil, err
		}
		s, err := p.ReadHostFile(f, hf)
		f.Close()
		if err != nil {
			return nil, err
		}
		set.AddSet(s)
	}
	for _, x := range t.exclude {
		s, err := p.Parse(x)
		if err != nil {
			return nil, err
		}
		set = set.Difference(s)
	}
	return set, nil
}

func newRoot(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "herd",
		Short: "Run commands on many machines over SSH, from one process",
		Long: `herd runs a command on many machines over SSH at once, each host a flow
on a cport event loop. Targets are node sets: web[01-20,33], rack[1-2]-node[01-16],
10.0.[0-3].[1-254], user@host:port, @group, joined with "," (union),
"!" (difference) and "&" (intersection).

Exit status of run, push and pull: 0 all succeeded, 1 some command or copy failed, 2 some host was
unreachable or refused auth or its host key, 3 some command timed out,
130 interrupted, 64 bad command line.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newHostsCmd(stdout), newRunCmd(stdin, stdout, stderr),
		newCopyCmd(false, stdout, stderr), newCopyCmd(true, stdout, stderr),
		newAgentCmd(stderr), newCACmd(stdout), newMapCmd(stdin, stdout, stderr))
	return root
}

func newHostsCmd(stdout io.Writer) *cobra.Command {
	var t targetFlags
	var each bool
	cmd := &cobra.Command{
		Use:   "hosts EXPR...",
		Short: "Print a node set folded, and its count",
		Example: `  herd hosts 'web[01-20]!web[05-09]'
  herd hosts -e @db`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && len(t.hostfiles) == 0 {
				return errors.New("hosts: no node set given")
			}
			set, err := t.resolve(args)
			if err != nil {
				return err
			}
			if each {
				for _, n := range set.Names() {
					fmt.Fprintln(stdout, n)
				}
				return nil
			}
			fmt.Fprintf(stdout, "%s\n%d\n", set, set.Len())
			return nil
		},
	}
	t.add(cmd)
	cmd.Flags().BoolVarP(&each, "expand", "e", false, "print one name a line")
	return cmd
}

// runFlags are herd run's options.
type runFlags struct {
	targetFlags
	sshFlags
	progressFlags
	agentFlags
	fanout         int
	connectTimeout time.Duration
	timeout        time.Duration
	retries        int
	gather         bool
	json           bool
	quiet          bool
	logDir         string
	batch          string
	maxFail        int
	sudo           bool
	user           string
	port           int
	keys           []string
	acceptNew      bool
	knownHosts     []string
	script         bool
	guard          bool
	raw            bool
	memProfile     string
}

func newRunCmd(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run TARGETS... -- COMMAND",
		Short: "Run a command on every target",
		Long: `herd run runs COMMAND on every target, over SSH (or, with --agent, through
herd agents), at most --fanout hosts at once.

A command that outlives --timeout, or runs when Ctrl-C comes a second time,
is killed on its host with the children it did not detach: herd sends it
as "echo $$; COMMAND", takes the login shell's pid off the head of its
output (what the command writes reaches you unchanged), and kills that
shell's process group through a second session on the same connection,
through sudo -n with --sudo. It adds no process on the host, but cannot act
once herd itself dies or the connection drops: --guard wraps each command
in a /bin/sh watchdog that kills it then too, for two more processes per
host. --raw sends COMMAND exactly as given, for login shells that cannot
run "echo $$; COMMAND" (fish, Windows' cmd.exe) or hosts that run no
shell; only an SSH signal then tries to kill it, which OpenSSH ignores for
root logins. A host where the kill fails (its sshd refuses the second
session, sudo asks for a password, the process changed its user) is
listed in the summary as "not killed", with why: its command may still run.`,
		Example: `  herd run 'web[01-20]' -- uptime
  herd run -b @all -- 'uname -r'
  herd run --log-dir /tmp/out -f 200 --timeout 1m @db -- 'systemctl restart app'
  herd run --hostfile /tmp/out/failed -- 'systemctl restart app'
  herd run -s @web < script.sh`,
		RunE: func(cmd *cobra.Command, args []string) error {
			dash := cmd.ArgsLenAtDash()
			var targets, command []string
			switch {
			case dash >= 0:
				targets, command = args[:dash], args[dash:]
			case f.script:
				targets = args
			default:
				return errors.New("run: put the command after --: herd run TARGETS -- COMMAND")
			}
			text := strings.Join(command, " ")
			if f.script {
				if len(command) > 0 {
					return errors.New("run: -s reads the script from stdin; give no command")
				}
				b, err := io.ReadAll(stdin)
				if err != nil {
					return err
				}
				text = "sh -c " + shellQuote(string(b))
			}
			if strings.TrimSpace(text) == "" {
				return errors.New("run: empty command")
			}
			return f.run(targets, text, stdout, stderr)
		},
	}
	f.addCommon(cmd)
	fl := cmd.Flags()
	fl.BoolVar(&f.sudo, "sudo", false, "run the command with sudo -n (fails clearly when sudo wants a password)")
	fl.BoolVarP(&f.script, "script", "s", false, "run the shell script read from stdin")
	f.addKillFlags(cmd)
	f.agentFlags.add(cmd)
	return cmd
}

// addKillFlags adds the flags that choose how a command is killed when
// --timeout or Ctrl-C ends it early (run and map).
func (f *runFlags) addKillFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.BoolVar(&f.guard, "guard", false, "wrap each command in a /bin/sh watchdog that also kills it when herd dies or the connection drops; costs two processes per host")
	fl.BoolVar(&f.raw, "raw", false, "send the command exactly as given, without the \"echo $$; \" before it by which herd kills it on --timeout or Ctrl-C (for login shells such as fish or cmd.exe, or hosts that run no shell)")
}

// killMode is the kill mode the flags choose.
func (f *runFlags) killMode() (sshsession.KillMode, error) {
	switch {
	case f.guard && f.raw:
		return 0, errors.New("--guard and --raw exclude each other")
	case f.guard:
		return sshsession.KillGuard, nil
	case f.raw:
		return sshsession.KillNone, nil
	}
	return sshsession.KillGroup, nil
}

// addCommon adds the flags that run, push and pull share.
func (f *runFlags) addCommon(cmd *cobra.Command) {
	f.targetFlags.add(cmd)
	f.sshFlags.add(cmd)
	f.progressFlags.add(cmd)
	fl := cmd.Flags()
	fl.IntVarP(&f.fanout, "fanout", "f", runner.DefaultFanout, "hosts in flight at once")
	fl.DurationVar(&f.connectTimeout, "connect-timeout", 10*time.Second, "time to connect and finish the SSH handshake, per attempt (when given, overrides ssh config ConnectTimeout)")
	fl.DurationVar(&f.timeout, "timeout", 0, "time the command or copy may run before it is stopped (0: no limit)")
	fl.IntVar(&f.retries, "retries", 1, "further connection attempts, with backoff (a command or copy is never retried)")
	fl.BoolVarP(&f.gather, "gather", "b", false, "at the end, print each distinct output once under its hosts")
	fl.BoolVar(&f.json, "json", false, "print one JSON object per host as it ends, and a summary object")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print no output, only the summary")
	fl.StringVar(&f.logDir, "log-dir", "", "write HOST.out, HOST.err and a failed host file into `DIR`")
	fl.StringVar(&f.batch, "batch", "", "run in batches of `N` hosts or N% of them, each after the last ends")
	fl.IntVar(&f.maxFail, "max-fail", 0, "start no further batch once `N` hosts failed (0: no limit)")
	fl.StringVarP(&f.user, "user", "l", "", "remote user (default: ssh config User, else $USER; user@host overrides)")
	fl.IntVarP(&f.port, "port", "p", 22, "remote port (default: ssh config Port, else 22; host:port overrides)")
	fl.StringArrayVarP(&f.keys, "identity", "i", nil, "private key `FILE`, tried before ssh config IdentityFile (repeatable; default: the agent, then ~/.ssh/id_*); KEY-cert.pub beside it is offered too")
	fl.BoolVar(&f.acceptNew, "accept-new", false, "record unknown host keys in known_hosts (changed keys still fail); overrides StrictHostKeyChecking")
	fl.StringArrayVar(&f.knownHosts, "known-hosts", nil, "known_hosts `FILE` (default: ssh config UserKnownHostsFile, else ~/.ssh/known_hosts)")
	// For finding where memory per host goes (bench/herd.sh); it slows
	// the run, so it stays out of the help.
	fl.StringVar(&f.memProfile, "memprofile", "", "write a Go heap profile taken near the memory's peak to `FILE`")
	fl.MarkHidden("memprofile")
}

// batchSize reads --batch: N, or N% of total, at least 1.
func batchSize(spec string, total int) (int, error) {
	if spec == "" {
		return 0, nil
	}
	if pct, ok := strings.CutSuffix(spec, "%"); ok {
		p, err := strconv.ParseFloat(pct, 64)
		if err != nil || p <= 0 || p > 100 {
			return 0, fmt.Errorf("--batch %s: want N or N%% with 0 < N <= 100", spec)
		}
		return max(1, int(float64(total)*p/100)), nil
	}
	n, err := strconv.Atoi(spec)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("--batch %s: want a positive count or a percentage", spec)
	}
	return n, nil
}

func (f *runFlags) run(targets []string, command string, stdout, stderr io.Writer) error {
	return f.execute("run", targets, command, nil, stdout, stderr)
}

// execute runs command, or with transfer a copy, on the targets.
func (f *runFlags) execute(verb string, targets []string, command string, transfer *sshsession.Transfer, stdout, stderr io.Writer) error {
	if len(targets) == 0 && len(f.hostfiles) == 0 {
		return errors.New(verb + ": no targets")
	}
	set, err := f.resolve(targets)
	if err != nil {
		return err
	}
	hosts := set.Names()
	if len(hosts) == 0 {
		return errors.New(verb + ": the targets name no host")
	}
	batch, err := batchSize(f.batch, len(hosts))
	if err != nil {
		return err
	}
	if f.fanout <= 0 {
		return errors.New(verb + ": --fanout must be positive")
	}
	showProgress, err := f.progressFlags.want(stderr)
	if err != nil {
		return err
	}
	raiseFileLimit()

	l, err := loop.Start(loop.Config{})
	if err != nil {
		return err
	}
	defer l.Close()
	hostConn, connectTimeout, settle, err := f.connector(l, hosts, transfer)
	if err != nil {
		return err
	}
	if !f.agent {
		defer useSSHGCPercent()()
	}
	mode := output.Live
	switch {
	case f.json:
		mode = output.JSON
	case f.gather:
		mode = output.Gather
	case f.quiet:
		mode = output.Quiet
	}
	stdout, stderr, prog := newProgress(showProgress, stdout, stderr, len(hosts))
	out, err := output.New(mode, stdout, stderr, f.logDir)
	if err != nil {
		return err
	}
	r := runner.New(hostConn, out, runner.Config{
		Fanout: f.fanout, ConnectTimeout: connectTimeout, Timeout: f.timeout,
		Retries: f.retries, Batch: batch, MaxFail: f.maxFail,
	})

	var mp *memProfiler
	if f.memProfile != "" {
		mp = startMemProfile(f.memProfile)
	}
	prog.start(r.Progress)
	stopSignals := handleInterrupts(r, stderr)
	results, err := r.Run(l, hosts, command)
	stopSignals()
	prog.stop()
	if mp != nil {
		mp.finish(stderr)
	}
	settle()
	if err != nil {
		return err
	}
	code, err := out.Finish(results)
	if err != nil {
		fmt.Fprintf(stderr, "herd: log dir: %v\n", err)
	}
	if code != 0 {
		return exitError{code}
	}
	return nil
}

// connector returns the connector to the hosts, the longest connect
// timeout among them, and what to wait for before the loop closes.
func (f *runFlags) connector(l *loop.Loop, hosts []string, transfer *sshsession.Transfer) (runner.Connector, time.Duration, func(), error) {
	if f.maxHandshakes <= 0 {
		return nil, 0, nil, errors.New("--max-handshakes must be positive")
	}
	if f.agent {
		c, err := f.agentConnector(l)
		return c, f.connectTimeout, func() {}, err
	}
	hc, err := f.hostConfig()
	if err != nil {
		return nil, 0, nil, err
	}
	// Without --connect-timeout, each host's ConnectTimeout (ssh config)
	// or the default applies; the runner's bound is the longest of them.
	connectTimeout := f.connectTimeout
	for _, h := range hosts {
		connectTimeout = max(connectTimeout, hc.ConnectTimeoutFor(h))
	}
	kill, err := f.killMode()
	if err != nil {
		return nil, 0, nil, err
	}
	conn, err := sshsession.New(sshsession.Config{
		Loop: l, Workers: 2 * f.fanout, User: f.user, Port: f.port,
		Hosts: hc, Sudo: f.sudo, Kill: kill, MaxHandshakes: f.maxHandshakes,
	})
	if err != nil {
		return nil, 0, nil, err
	}
	var hostConn runner.Connector = conn
	if transfer != nil {
		hostConn = conn.Copier(*transfer)
	}
	// Killed commands' kills and closing connections need the loop a
	// little longer.
	return hostConn, connectTimeout, func() { conn.Wait(sshsession.KillWait + time.Second) }, nil
}

// handleInterrupts makes the first Ctrl-C stop starting hosts (and say
// which still run) and the second cancel them, killing their commands.
func handleInterrupts(r *runner.Runner, stderr io.Writer) (stop func()) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt)
	done := make(chan struct{})
	go func() {
		n := 0
		for {
			select {
			case <-done:
				return
			case <-sigs:
				n++
				if n == 1 {
					running := r.Running()
					fmt.Fprintf(stderr, "herd: interrupted: starting no more hosts; waiting for %d: %s (Ctrl-C again to kill them)\n",
						len(running), nodeset.Fold(running))
					r.Stop()
				} else {
					fmt.Fprintln(stderr, "herd: interrupted again: killing the remote commands")
					r.Cancel()
				}
			}
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
