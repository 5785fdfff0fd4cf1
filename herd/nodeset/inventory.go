package nodeset

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Inventory maps group names to node set expressions. It is a Resolver.
//
// Its file format is one group a line, "name: expression", with blank
// lines and "#" comments ignored:
//
//	# web tier
//	web: web[01-20]
//	db:  db[1-3]
//	all: @web,@db
type Inventory map[string]string

// Group returns the expression of group name.
func (inv Inventory) Group(name string) (string, error) {
	expr, ok := inv[name]
	if !ok {
		return "", fmt.Errorf("no such group")
	}
	return expr, nil
}

// DefaultInventoryPath is where the inventory is read from when none is
// named: $HERD_INVENTORY if set, else $XDG_CONFIG_HOME/herd/groups
// (~/.config/herd/groups).
func DefaultInventoryPath() string {
	if p := os.Getenv("HERD_INVENTORY"); p != "" {
		return p
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "herd", "groups")
}

// ReadInventory parses an inventory file; see Inventory.
func ReadInventory(r io.Reader, name string) (Inventory, error) {
	inv := Inventory{}
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := stripComment(sc.Text())
		if text == "" {
			continue
		}
		group, expr, ok := strings.Cut(text, ":")
		group = strings.TrimSpace(group)
		if !ok || group == "" || strings.IndexFunc(group, func(r rune) bool { return r > 0x7f || !groupByte(byte(r)) }) >= 0 {
			return nil, fmt.Errorf("%s:%d: want \"group: nodes\", got %q", name, line, text)
		}
		if _, dup := inv[group]; dup {
			return nil, fmt.Errorf("%s:%d: group %s defined twice", name, line, group)
		}
		inv[group] = strings.TrimSpace(expr)
	}
	return inv, sc.Err()
}

// LoadInventory reads the inventory file at path. A missing file at the
// default path is an empty inventory, not an error.
func LoadInventory(path string) (Inventory, error) {
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) && path == DefaultInventoryPath() {
			return Inventory{}, nil
		}
		return nil, err
	}
	defer f.Close()
	return ReadInventory(f, path)
}

// ReadHostFile parses a host file: one node set expression a line (a plain
// host name is one), "#" comments and blank lines ignored.
func (p *Parser) ReadHostFile(r io.Reader, name string) (*Set, error) {
	set := New()
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := stripComment(sc.Text())
		if text == "" {
			continue
		}
		s, err := p.Parse(text)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		set.AddSet(s)
		if set.Len() > p.limit() {
			return nil, fmt.Errorf("%s:%d: more than %d nodes", name, line, p.limit())
		}
	}
	return set, sc.Err()
}

func stripComment(line string) string {
	if i := strings.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	return strings.TrimSpace(line)
}
