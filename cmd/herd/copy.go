package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/cport/cport/herd/sshsession"
)

// newCopyCmd returns herd push or, with pull, herd pull: a copy over SFTP
// that the runner schedules as it does a command, with the same fan-out,
// timeouts, retries, output, summary and exit status.
func newCopyCmd(pull bool, stdout, stderr io.Writer) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "push TARGETS... LOCAL REMOTE",
		Short: "Copy a file or directory tree to every target, over SFTP",
		Long: `push copies LOCAL, a file or a directory (recursively), to REMOTE on every
target over SFTP: into REMOTE if it is a directory there, else as REMOTE.
Permission bits are kept, symbolic links are copied as links. A host that
refuses the copy counts as failed (exit status 1), as a command would.`,
		Example: `  herd push 'web[01-20]' ./app.conf /etc/app/
  herd push -f 100 --timeout 5m @all ./release /opt/`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			targets, local, remote := args[:len(args)-2], args[len(args)-2], args[len(args)-1]
			if _, err := os.Stat(local); err != nil {
				return fmt.Errorf("push: %w", err)
			}
			t := &sshsession.Transfer{Local: local, Remote: remote}
			return f.execute("push", targets, "push "+local+" "+remote, t, stdout, stderr)
		},
	}
	if pull {
		cmd.Use = "pull TARGETS... REMOTE LOCALDIR"
		cmd.Short = "Copy a file or directory tree from every target into LOCALDIR/HOST/, over SFTP"
		cmd.Long = `pull copies REMOTE, a file or a directory (recursively), from every target
into LOCALDIR/HOST/ over SFTP, one directory per host. Permission bits are
kept, symbolic links are copied as links. A host that lacks REMOTE or
refuses to send it counts as failed (exit status 1), as a command would.`
		cmd.Example = `  herd pull 'web[01-20]' /var/log/app.log ./logs      # ./logs/web01/app.log ...
  herd pull @db /etc/mysql ./conf`
		cmd.RunE = func(cmd *cobra.Command, args []string) error {
			targets, remote, local := args[:len(args)-2], args[len(args)-2], args[len(args)-1]
			if err := os.MkdirAll(local, 0o755); err != nil {
				return fmt.Errorf("pull: %w", err)
			}
			if remote == "" {
				return errors.New("pull: empty REMOTE path")
			}
			t := &sshsession.Transfer{Pull: true, Local: local, Remote: remote}
			return f.execute("pull", targets, "pull "+remote+" "+local, t, stdout, stderr)
		}
	}
	f.addCommon(cmd)
	return cmd
}
