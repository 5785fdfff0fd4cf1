package agent

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// An output frame (ProtocolFrames) carries a chunk of a run's output as
// it is, with no escaping:
//
//	FrameOutput      1 byte, 0x00
//	stream           1 byte, Stdout or Stderr
//	len(job)         uvarint
//	job              the run's name, as in RunParams.Job
//	len(data)        uvarint
//	data             the output bytes
//
// JSON-RPC messages are JSON texts on lines of their own, and a JSON
// text never starts with a NUL byte: a reader tells a frame from a
// message by the first byte.

// FrameOutput is the first byte of an output frame.
const FrameOutput byte = 0x00

// MaxFrameJob bounds the job name of an output frame a reader accepts;
// the agent names frames with the controller's own job names.
const MaxFrameJob = 1 << 10

// frameHeaderRoom is the most bytes an output frame's header takes for
// job.
func frameHeaderRoom(job string) int { return 2 + 2*binary.MaxVarintLen64 + len(job) }

// appendFrameHeader appends the header of an output frame of n bytes.
func appendFrameHeader(dst []byte, job string, stream, n int) []byte {
	dst = append(dst, FrameOutput, byte(stream))
	dst = binary.AppendUvarint(dst, uint64(len(job)))
	dst = append(dst, job...)
	return binary.AppendUvarint(dst, uint64(n))
}

// OutputHeader is an output frame's header.
type OutputHeader struct {
	Job    string
	Stream int
	Len    int // the data's length, in bytes, that follow the header
}

// ErrBadFrame: bytes that start like an output frame are not one.
var ErrBadFrame = errors.New("herd agent: bad output frame")

// ReadOutputHeader reads an output frame's header from br, whose next
// byte must be FrameOutput; the frame's data, hdr.Len bytes, follow in
// br. A frame longer than maxData, or of another stream than Stdout and
// Stderr, is refused with ErrBadFrame.
func ReadOutputHeader(br *bufio.Reader, maxData int) (OutputHeader, error) {
	var hdr OutputHeader
	first, err := br.ReadByte()
	if err != nil {
		return hdr, err
	}
	if first != FrameOutput {
		return hdr, fmt.Errorf("%w: starts with %#x", ErrBadFrame, first)
	}
	stream, err := br.ReadByte()
	if err != nil {
		return hdr, noEOF(err)
	}
	hdr.Stream = int(stream)
	if hdr.Stream != Stdout && hdr.Stream != Stderr {
		return hdr, fmt.Errorf("%w: stream %d", ErrBadFrame, hdr.Stream)
	}
	jobLen, err := binary.ReadUvarint(br)
	if err != nil {
		return hdr, noEOF(err)
	}
	if jobLen > MaxFrameJob {
		return hdr, fmt.Errorf("%w: a job name of %d bytes (at most %d)", ErrBadFrame, jobLen, MaxFrameJob)
	}
	job := make([]byte, jobLen)
	if _, err := io.ReadFull(br, job); err != nil {
		return hdr, noEOF(err)
	}
	hdr.Job = string(job)
	n, err := binary.ReadUvarint(br)
	if err != nil {
		return hdr, noEOF(err)
	}
	if n > uint64(maxData) {
		return hdr, fmt.Errorf("%w: %d bytes of output (at most %d)", ErrBadFrame, n, maxData)
	}
	hdr.Len = int(n)
	return hdr, nil
}

// noEOF turns an end of stream inside a frame into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
