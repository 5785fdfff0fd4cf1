//go:build linux || windows

package sock

import (
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"
)

// zones maps IPv6 zones (interface names) to scope ids (interface
// indexes) and back. Asking the system for one interface costs a full
// interface dump (a netlink round trip on Linux), too much for every
// datagram from a link-local peer, so the table is kept and fetched
// again only when a name or index is missing, at most once per
// zoneRefetch: interfaces come and go rarely.
var zones struct {
	mu      sync.Mutex
	byName  map[string]uint32
	byIndex map[uint32]string
	fetched time.Time
}

const zoneRefetch = time.Second

// zoneLookup finds name (if not "") or index in the table, fetching it
// again first if it is missing and old enough.
func zoneLookup(name string, index uint32) (string, uint32, bool) {
	zones.mu.Lock()
	defer zones.mu.Unlock()
	find := func() (string, uint32, bool) {
		if name != "" {
			i, ok := zones.byName[name]
			return name, i, ok
		}
		n, ok := zones.byIndex[index]
		return n, index, ok
	}
	if n, i, ok := find(); ok || time.Since(zones.fetched) < zoneRefetch {
		return n, i, ok
	}
	zones.fetched = time.Now()
	ifs, err := net.Interfaces()
	if err != nil {
		return find()
	}
	zones.byName = make(map[string]uint32, len(ifs))
	zones.byIndex = make(map[uint32]string, len(ifs))
	for _, ifc := range ifs {
		zones.byName[ifc.Name] = uint32(ifc.Index)
		zones.byIndex[uint32(ifc.Index)] = ifc.Name
	}
	return find()
}

// zoneScope is the scope id of an IPv6 zone: the index of the interface
// of that name, or the zone itself if it is a decimal index, as Go's net
// reads zones.
func zoneScope(zone string) (uint32, error) {
	if zone == "" {
		return 0, nil
	}
	if _, i, ok := zoneLookup(zone, 0); ok {
		return i, nil
	}
	if i, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(i), nil
	}
	return 0, fmt.Errorf("%w: no interface %q", ErrUnknownZone, zone)
}

// scopeZone is the zone of scope id: its interface's name, or the index
// in decimal when no interface has it (it may have gone).
func scopeZone(id uint32) string {
	if id == 0 {
		return ""
	}
	if n, _, ok := zoneLookup("", id); ok {
		return n
	}
	return strconv.FormatUint(uint64(id), 10)
}
