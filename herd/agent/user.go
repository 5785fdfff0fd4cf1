package agent

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
)

// User is whom an agent runs commands as, when not itself.
type User struct {
	Name     string
	UID, GID uint32
	Groups   []uint32
	Home     string
	Dir      string // where commands start: Home, or / when Home is missing (as sshd does)
}

// LookupUser finds a local user by name.
func LookupUser(name string) (*User, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("agent: user %s has no numeric uid and gid", name)
	}
	ru := &User{Name: u.Username, UID: uint32(uid), GID: uint32(gid), Home: u.HomeDir, Dir: "/"}
	if st, err := os.Stat(u.HomeDir); err == nil && st.IsDir() {
		ru.Dir = u.HomeDir
	}
	gids, err := u.GroupIds()
	if err == nil {
		for _, g := range gids {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil {
				ru.Groups = append(ru.Groups, uint32(n))
			}
		}
	}
	return ru, nil
}

func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}

var errNotRoot = errors.New("agent: running commands as another user needs root")
