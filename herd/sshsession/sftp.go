package sshsession

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/pkg/sftp"

	"github.com/cport/cport/herd/runner"
)

// Transfer is a copy between this machine and every host, over SFTP.
type Transfer struct {
	// Pull copies Remote from each host into Local/HOST/; otherwise Local
	// is pushed to Remote on each host.
	Pull   bool
	Local  string
	Remote string
}

// Copier returns a runner.Connector whose sessions copy t where a
// Connector's run a command: the runner's fan-out, connect timeout,
// retries of connection errors, --timeout and result classes apply to
// copies unchanged. The command string the runner passes is ignored.
//
// A copy that the host or this machine refuses (a missing file, a
// permission) ends the host as Failed with exit status 1 and the reason on
// its stderr; a lost connection is an Error.
func (c *Connector) Copier(t Transfer) runner.Connector { return copier{c, t} }

var _ runner.Queued = copier{}

type copier struct {
	c *Connector
	t Transfer
}

// Turn makes a copier a runner.Queued, as its Connector is.
func (cp copier) Turn(ctx context.Context) (context.Context, func(), error) { return cp.c.Turn(ctx) }

func (cp copier) Connect(ctx context.Context, name string) (runner.Session, error) {
	s, err := cp.c.Connect(ctx, name)
	if err != nil {
		return nil, err
	}
	return &copySession{Session: s.(*Session), t: cp.t, host: name}, nil
}

// copySession is a Session whose Run copies files.
type copySession struct {
	*Session
	t    Transfer
	host string
}

// Run copies the files, on a worker: pkg/sftp, like x/crypto/ssh, waits
// on channels. It reports what it copied on stdout.
func (s *copySession) Run(ctx context.Context, _ string, stdout, stderr io.Writer) (int, error) {
	err := s.c.pool.Run(ctx, func() error {
		client, err := sftp.NewClient(s.Session.host.client())
		if err != nil {
			// A host without an sftp server cannot take copies at all:
			// an error of the host, not a failed copy.
			return &runner.ClassError{Class: runner.Error, Err: fmt.Errorf("starting sftp: %w", err)}
		}
		defer client.Close()
		var st copyStats
		if s.t.Pull {
			err = pull(client, s.t.Remote, filepath.Join(s.t.Local, safeName(s.host)), &st, stderr)
		} else {
			err = push(client, s.t.Local, s.t.Remote, &st, stderr)
		}
		if err == nil {
			fmt.Fprintf(stdout, "%s %d files, %d directories, %d bytes\n", s.t.verb(), st.files, st.dirs, st.bytes)
		}
		return err
	})
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		// Closing the connection ends the copy still on the worker.
		s.closed = true
		s.c.background(func() { s.Session.host.Close() })
		if err == nil {
			err = ctx.Err()
		}
		return -1, err
	}
	var ce *runner.ClassError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ce):
		return -1, err
	case connectionLost(err):
		return -1, &runner.ClassError{Class: runner.Error, Err: fmt.Errorf("%s: %w", s.t.name(), err)}
	}
	fmt.Fprintf(stderr, "%s: %v\n", s.t.name(), err)
	return 1, nil
}

// name is the copy's name in errors; verb its past tense, for the report.
func (t Transfer) name() string {
	if t.Pull {
		return "pull"
	}
	return "push"
}

func (t Transfer) verb() string { return t.name() + "ed" }

// safeName keeps a host name from escaping the pull directory.
func safeName(name string) string {
	return strings.NewReplacer("/", "_", "\\", "_").Replace(name)
}

// connectionLost tells a dead connection from a refused file operation.
func connectionLost(err error) bool {
	return errors.Is(err, sftp.ErrSSHFxConnectionLost) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}

type copyStats struct{ files, dirs, bytes int64 }

// remoteErr names the remote path an sftp error is about: pkg/sftp's
// errors do not.
func remoteErr(op, p string, err error) error {
	return &fs.PathError{Op: "remote " + op, Path: p, Err: err}
}

// dirMode is a directory whose permissions are set once it is filled, so
// that a read-only directory can still receive its files.
type dirMode struct {
	path string
	mode fs.FileMode
}

// push copies local (a file or a tree) to remote, as cp -r and scp -r do:
// into remote if it is a directory, else as remote. Permission bits are
// kept; symbolic links are copied as links; other special files are
// skipped with a warning.
func push(c *sftp.Client, local, remote string, st *copyStats, warn io.Writer) error {
	root, err := filepath.EvalSymlinks(local) // a link named on the command line is followed
	if err != nil {
		return err
	}
	dst := remote
	if fi, err := c.Stat(remote); err == nil && fi.IsDir() {
		dst = path.Join(remote, filepath.Base(local))
	}
	var dirs []dirMode
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		target := path.Join(dst, filepath.ToSlash(rel))
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch mode := info.Mode(); {
		case mode.IsDir():
			if err := c.Mkdir(target); err != nil {
				if fi, serr := c.Stat(target); serr != nil || !fi.IsDir() {
					return remoteErr("mkdir", target, err)
				}
			}
			dirs = append(dirs, dirMode{target, mode.Perm()})
			st.dirs++
		case mode.IsRegular():
			n, err := pushFile(c, p, target, mode.Perm())
			st.bytes += n
			if err != nil {
				return err
			}
			st.files++
		case mode&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			c.Remove(target) // a link cannot be created over an old file
			if err := c.Symlink(link, target); err != nil {
				return remoteErr("symlink", target, err)
			}
			st.files++
		default:
			fmt.Fprintf(warn, "skipping %s: not a file, directory or link\n", p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := c.Chmod(dirs[i].path, dirs[i].mode); err != nil {
			return remoteErr("chmod", dirs[i].path, err)
		}
	}
	return nil
}

func pushFile(c *sftp.Client, local, remote string, perm fs.FileMode) (int64, error) {
	in, err := os.Open(local)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	out, err := c.OpenFile(remote, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return 0, remoteErr("open", remote, err)
	}
	n, err := io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, remoteErr("write", remote, err)
	}
	// After the write: the remote umask applied at creation, and an
	// existing file kept its old mode.
	if err := c.Chmod(remote, perm); err != nil {
		return n, remoteErr("chmod", remote, err)
	}
	return n, nil
}

// pull copies remote (a file or a tree) into dir, as dir/BASE. Permission
// bits are kept and links copied as links. Every path is checked to stay
// inside dir, whatever names the host sends.
func pull(c *sftp.Client, remote, dir string, st *copyStats, warn io.Writer) error {
	root := remote
	fi, err := c.Stat(remote)
	if err != nil {
		return remoteErr("stat", remote, err)
	}
	if fi.IsDir() { // a link to a directory named on the command line is followed
		if root, err = c.RealPath(remote); err != nil {
			return remoteErr("realpath", remote, err)
		}
	}
	base := path.Base(path.Clean(remote))
	if base == "/" || base == "." || base == ".." {
		base = "root"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	made := map[string]bool{dir: true} // directories this pull made, the only ones written into
	var dirs []dirMode
	w := c.Walk(root)
	for w.Step() {
		if err := w.Err(); err != nil {
			return remoteErr("walk", w.Path(), err)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(w.Path(), root), "/")
		target := filepath.Join(dir, base)
		if rel != "" {
			if !filepath.IsLocal(filepath.FromSlash(rel)) {
				return fmt.Errorf("remote path %q leaves %s", w.Path(), root)
			}
			target = filepath.Join(target, filepath.FromSlash(rel))
		}
		if !made[filepath.Dir(target)] {
			return fmt.Errorf("remote path %q: its parent was not pulled as a directory", w.Path())
		}
		info := w.Stat()
		if w.Path() == root {
			info = fi // the walk's own Lstat would see a root link as a link
		}
		switch mode := info.Mode(); {
		case mode.IsDir():
			if err := os.Mkdir(target, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
			if li, err := os.Lstat(target); err != nil || !li.IsDir() {
				return fmt.Errorf("%s: exists and is not a directory", target)
			}
			made[target] = true
			dirs = append(dirs, dirMode{target, mode.Perm()})
			st.dirs++
		case mode.IsRegular():
			n, err := pullFile(c, w.Path(), target, mode.Perm())
			st.bytes += n
			if err != nil {
				return err
			}
			st.files++
		case mode&fs.ModeSymlink != 0:
			link, err := c.ReadLink(w.Path())
			if err != nil {
				return remoteErr("readlink", w.Path(), err)
			}
			os.Remove(target)
			if err := os.Symlink(link, target); err != nil {
				return err
			}
			st.files++
		default:
			fmt.Fprintf(warn, "skipping %s: not a file, directory or link\n", w.Path())
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Chmod(dirs[i].path, dirs[i].mode); err != nil {
			return err
		}
	}
	return nil
}

func pullFile(c *sftp.Client, remote, local string, perm fs.FileMode) (int64, error) {
	in, err := c.Open(remote)
	if err != nil {
		return 0, remoteErr("open", remote, err)
	}
	defer in.Close()
	// O_EXCL after removing: never write through a link left at target.
	if err := os.Remove(local); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, err
	}
	out, err := os.OpenFile(local, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, err
	}
	return n, os.Chmod(local, perm)
}
