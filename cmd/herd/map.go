package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cport/cport/herd/mapper"
	"github.com/cport/cport/herd/nodeset"
	"github.com/cport/cport/herd/runner"
	"github.com/cport/cport/loop"
)

// mapFlags are herd map's options: run's connection options and these.
type mapFlags struct {
	runFlags
	argsFile  string
	slots     int
	joblog    string
	resume    bool
	keepOrder bool
}

func newMapCmd(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	var f mapFlags
	cmd := &cobra.Command{
		Use:   "map TARGETS... -- COMMAND [{}]",
		Short: "Spread jobs, one per input line, over the targets (like GNU parallel --sshlogin)",
		Long: `herd map runs COMMAND once per input line (stdin, or --args FILE), on
whichever target has a free slot, with {} replaced by the line, shell-quoted
(appended when COMMAND has no {}). Each target runs --slots jobs at once. A
target that cannot be reached, or fails during a job, takes no more jobs, and
the job goes to another target; a job that runs and fails is not retried.
Each job's output is printed, all of it together, when it ends, or with
--keep-order in input order. --joblog writes GNU parallel's job log; with
--resume, jobs the log shows done (the same sequence number and command,
exit value 0) are skipped and the log is added to, so a run cut short, or
one with failed jobs, can be run again to finish only what is left.

Exit status: 0 every job exited 0, 1 some job failed or timed out, 2 some job
found no target left, 130 interrupted, 64 bad command line.`,
		Example: `  ls *.tar | herd map 'web[01-20]' -- 'tar -tf /data/{} | wc -l'
  herd map --slots 4 --args urls.txt --joblog jobs.log @workers -- curl -sO {}
  herd map --slots 4 --args urls.txt --joblog jobs.log --resume @workers -- curl -sO {}`,
		RunE: func(cmd *cobra.Command, args []string) error {
			dash := cmd.ArgsLenAtDash()
			if dash < 0 || dash == len(args) {
				return errors.New("map: put the command after --: herd map TARGETS -- COMMAND {}")
			}
			return f.run(args[:dash], strings.Join(args[dash:], " "), stdin, stdout, stderr)
		},
	}
	f.targetFlags.add(cmd)
	f.sshFlags.add(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.argsFile, "args", "", "read the job arguments from `FILE`, one a line (default: stdin)")
	fl.IntVar(&f.slots, "slots", 1, "jobs running at once on each target")
	fl.StringVar(&f.joblog, "joblog", "", "write a job log to `FILE`, in GNU parallel's --joblog format")
	fl.BoolVar(&f.resume, "resume", false, "with --joblog: skip the jobs the log shows done (exit 0) and add to the log")
	fl.BoolVarP(&f.keepOrder, "keep-order", "k", false, "print the jobs' output in input order, not as they end")
	fl.DurationVar(&f.connectTimeout, "connect-timeout", 10*time.Second, "time to connect, per attempt")
	fl.DurationVar(&f.timeout, "timeout", 0, "time a job may run before it is killed (0: no limit)")
	fl.IntVar(&f.retries, "retries", 1, "further connection attempts per slot, with backoff")
	fl.StringVarP(&f.user, "user", "l", "", "remote user (default: ssh config User, else $USER; user@host overrides)")
	fl.IntVarP(&f.port, "port", "p", 22, "remote port (default: ssh config Port, else 22; host:port overrides)")
	fl.StringArrayVarP(&f.keys, "identity", "i", nil, "private key `FILE` (repeatable)")
	fl.StringArrayVar(&f.knownHosts, "known-hosts", nil, "known_hosts `FILE`")
	fl.BoolVar(&f.acceptNew, "accept-new", false, "record unknown host keys in known_hosts")
	f.addKillFlags(cmd)
	f.agentFlags.add(cmd)
	return cmd
}

// mapConnectorHook, set by tests, wraps herd map's connector: the seam
// through which they watch each job start and end on each host.
var mapConnectorHook func(runner.Connector) runner.Connector

// readJobs makes a job of each non-empty line of r.
func readJobs(r io.Reader, template string) ([]mapper.Job, error) {
	var jobs []mapper.Job
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		arg := sc.Text()
		if strings.TrimSpace(arg) == "" {
			continue
		}
		cmd := template + " " + shellQuote(arg)
		if strings.Contains(template, "{}") {
			cmd = strings.ReplaceAll(template, "{}", shellQuote(arg))
		}
		jobs = append(jobs, mapper.Job{Seq: len(jobs) + 1, Arg: arg, Command: cmd})
	}
	return jobs, sc.Err()
}

func (f *mapFlags) run(targets []string, template string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(targets) == 0 && len(f.hostfiles) == 0 {
		return errors.New("map: no targets")
	}
	if f.slots <= 0 {
		return errors.New("map: --slots must be positive")
	}
	if f.resume && f.joblog == "" {
		return errors.New("map: --resume needs --joblog FILE, the log of the run to resume")
	}
	set, err := f.resolve(targets)
	if err != nil {
		return err
	}
	hosts := set.Names()
	if len(hosts) == 0 {
		return errors.New("map: the targets name no host")
	}
	in := stdin
	if f.argsFile != "" {
		file, err := os.Open(f.argsFile)
		if err != nil {
			return err
		}
		defer file.Close()
		in = file
	}
	jobs, err := readJobs(in, template)
	if err != nil {
		return fmt.Errorf("map: reading the job arguments: %w", err)
	}
	if len(jobs) == 0 {
		return errors.New("map: no job arguments (one a line, from stdin or --args)")
	}
	skipped := 0
	if f.resume {
		done, err := doneJobs(f.joblog)
		if err != nil {
			return fmt.Errorf("map: --resume: %w", err)
		}
		if jobs, skipped = pendingJobs(jobs, done); len(jobs) == 0 {
			fmt.Fprintf(stderr, "herd: all %d jobs are done in %s: nothing to run\n", skipped, f.joblog)
			return nil
		}
	}
	var joblog *os.File
	if f.joblog != "" {
		if joblog, err = openJobLog(f.joblog, f.resume); err != nil {
			return fmt.Errorf("map: --joblog: %w", err)
		}
		defer joblog.Close()
	}
	raiseFileLimit()
	l, err := loop.Start(loop.Config{})
	if err != nil {
		return err
	}
	defer l.Close()
	f.fanout = len(hosts) * f.slots // for the SSH connector's worker pool
	conn, connectTimeout, settle, err := f.connector(l, hosts, nil)
	if err != nil {
		return err
	}
	if mapConnectorHook != nil {
		conn = mapConnectorHook(conn)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	defer signal.Stop(sigs)
	go func() {
		select {
		case <-sigs:
			fmt.Fprintln(stderr, "herd: interrupted: killing the running jobs")
			cancel()
		case <-ctx.Done():
		}
	}()
	show := func(r mapper.Result) {
		stdout.Write(r.Stdout)
		stderr.Write(r.Stderr)
		if r.Err != nil {
			fmt.Fprintf(stderr, "herd: job %d (%s) on %s: %v\n", r.Seq, r.Arg, orNone(r.Host), r.Err)
		}
	}
	if f.keepOrder {
		show = mapper.InOrder(jobs, show)
	}
	results, failures, err := mapper.Run(ctx, l, conn, hosts, jobs, mapper.Config{
		Slots: f.slots, Timeout: f.timeout, ConnectTimeout: connectTimeout, Retries: f.retries,
		Done: func(r mapper.Result) {
			// The log hears of a job as it ends, whatever the order of
			// the output, so that a run cut short is resumed from all
			// it finished.
			if joblog != nil {
				writeJobLog(joblog, r)
			}
			show(r)
		},
	})
	settle()
	for _, hf := range failures {
		fmt.Fprintf(stderr, "herd: %s failed, took no more jobs: %v\n", hf.Host, hf.Err)
	}
	var ok, failed, notRun int
	for _, r := range results {
		switch {
		case r.OK():
			ok++
		case r.Ran():
			failed++
		default:
			notRun++
		}
	}
	resumed := ""
	if f.resume {
		resumed = fmt.Sprintf(" (%d more done before, in the job log)", skipped)
	}
	fmt.Fprintf(stderr, "herd: %d jobs: %d ok, %d failed, %d not run%s; %d of %d hosts failed%s\n",
		len(results), ok, failed, notRun, resumed, len(failures), len(hosts), foldFailed(failures))
	switch {
	case errors.Is(err, context.Canceled):
		return exitError{130}
	case err != nil:
		return err
	case notRun > 0:
		return exitError{2}
	case failed > 0:
		return exitError{1}
	}
	return nil
}

func orNone(host string) string {
	if host == "" {
		return ":"
	}
	return host
}

func foldFailed(failures []mapper.HostFailure) string {
	if len(failures) == 0 {
		return ""
	}
	names := make([]string, len(failures))
	for i, hf := range failures {
		names[i] = hf.Host
	}
	return ": " + nodeset.Fold(names)
}
