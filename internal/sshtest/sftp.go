package sshtest

import (
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// serveSFTP serves the sftp subsystem on ch, confined to the server's
// Root by an os.Root: "/" is the root, and relative paths start there.
// Link targets are stored as the client sends them, as OpenSSH does.
func (srv *Server) serveSFTP(ch ssh.Channel) {
	if srv.opts.SFTPStall {
		io.Copy(io.Discard, ch) // until the client goes
		return
	}
	root, err := os.OpenRoot(srv.opts.Root)
	if err != nil {
		return
	}
	defer root.Close()
	h := rootHandler{root}
	s := sftp.NewRequestServer(ch, sftp.Handlers{FileGet: h, FilePut: h, FileCmd: h, FileList: h})
	s.Serve()
	s.Close()
}

type rootHandler struct{ root *os.Root }

// rel turns a request's absolute path into one inside the root.
func rel(p string) string {
	p = strings.TrimLeft(p, "/")
	if p == "" {
		return "."
	}
	return p
}

func (h rootHandler) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	return h.root.Open(rel(r.Filepath))
}

func (h rootHandler) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	fl := r.Pflags()
	flags := os.O_WRONLY
	if fl.Read {
		flags = os.O_RDWR
	}
	if fl.Creat {
		flags |= os.O_CREATE
	}
	if fl.Trunc {
		flags |= os.O_TRUNC
	}
	if fl.Excl {
		flags |= os.O_EXCL
	}
	return h.root.OpenFile(rel(r.Filepath), flags, 0o644)
}

func (h rootHandler) Filecmd(r *sftp.Request) error {
	p := rel(r.Filepath)
	switch r.Method {
	case "Setstat":
		attrs, flags := r.Attributes(), r.AttrFlags()
		if flags.Permissions {
			if err := h.root.Chmod(p, attrs.FileMode().Perm()); err != nil {
				return err
			}
		}
		if flags.Size {
			f, err := h.root.OpenFile(p, os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			return f.Truncate(int64(attrs.Size))
		}
		return nil
	case "Rename":
		return h.root.Rename(p, rel(r.Target))
	case "Remove", "Rmdir":
		return h.root.Remove(p)
	case "Mkdir":
		return h.root.Mkdir(p, 0o755)
	case "Symlink":
		return h.root.Symlink(r.Filepath, rel(r.Target)) // Filepath is the link's text here
	}
	return sftp.ErrSSHFxOpUnsupported
}

func (h rootHandler) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	p := rel(r.Filepath)
	switch r.Method {
	case "List":
		d, err := h.root.Open(p)
		if err != nil {
			return nil, err
		}
		defer d.Close()
		entries, err := d.Readdir(-1)
		return lister(entries), err
	case "Stat":
		fi, err := h.root.Stat(p)
		return lister{fi}, err
	}
	return nil, sftp.ErrSSHFxOpUnsupported
}

func (h rootHandler) Lstat(r *sftp.Request) (sftp.ListerAt, error) {
	fi, err := h.root.Lstat(rel(r.Filepath))
	return lister{fi}, err
}

func (h rootHandler) Readlink(p string) (string, error) {
	return h.root.Readlink(rel(p))
}

type lister []fs.FileInfo

func (l lister) ListAt(out []fs.FileInfo, off int64) (int, error) {
	if off >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(out, l[off:])
	if n < len(out) {
		return n, io.EOF
	}
	return n, nil
}
