package port

const (
	chunkShift = 8
	chunkSize  = 1 << chunkShift
)

// chunks is a table that grows by fixed-size chunks and never moves an
// entry: addresses handed to the kernel stay valid, and growing copies
// nothing and leaves no garbage. (A table grown by append holds up to
// twice its entries, plus its old arrays until the next collection: after
// a burst of connections, hundreds of bytes per connection of RSS.)
type chunks[T any] struct{ c []*[chunkSize]T }

// at returns entry i, which must be below size.
func (t *chunks[T]) at(i int) *T { return &t.c[i>>chunkShift][i&(chunkSize-1)] }

// size is how many entries exist: a multiple of chunkSize.
func (t *chunks[T]) size() int { return len(t.c) << chunkShift }

// grow makes entry i exist.
func (t *chunks[T]) grow(i int) {
	for i >= t.size() {
		t.c = append(t.c, new([chunkSize]T))
	}
}
