package agent

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestOutputFrameRoundTrip(t *testing.T) {
	data := []byte("\x00\xff\n{\"a\":1}\n\xc3")
	job := strings.Repeat("j", 200) // a uvarint of two bytes
	frame := append(appendFrameHeader(nil, job, Stderr, len(data)), data...)
	if len(frame)-len(data) > frameHeaderRoom(job) {
		t.Fatalf("header of %d bytes, room for %d", len(frame)-len(data), frameHeaderRoom(job))
	}
	br := bufio.NewReader(bytes.NewReader(append(frame, "next"...)))
	hdr, err := ReadOutputHeader(br, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if hdr.Job != job || hdr.Stream != Stderr || hdr.Len != len(data) {
		t.Fatalf("header %+v", hdr)
	}
	got := make([]byte, hdr.Len)
	if _, err := io.ReadFull(br, got); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("data %q, %v; want %q", got, err, data)
	}
	if rest, _ := io.ReadAll(br); string(rest) != "next" {
		t.Fatalf("after the frame: %q", rest)
	}
}

func TestOutputFrameRefused(t *testing.T) {
	good := appendFrameHeader(nil, "1", Stdout, 10)
	cases := map[string]struct {
		frame []byte
		want  error
	}{
		"a JSON line":     {[]byte(`{"jsonrpc":"2.0"}` + "\n"), ErrBadFrame},
		"stream 3":        {appendFrameHeader(nil, "1", 3, 10), ErrBadFrame},
		"too much data":   {appendFrameHeader(nil, "1", Stdout, 1<<20+1), ErrBadFrame},
		"a long job name": {appendFrameHeader(nil, strings.Repeat("j", MaxFrameJob+1), Stdout, 1), ErrBadFrame},
		"cut in the job":  {good[:3], io.ErrUnexpectedEOF},
		"cut in a length": {[]byte{FrameOutput, Stdout, 0x80}, io.ErrUnexpectedEOF},
		"only the marker": {[]byte{FrameOutput}, io.ErrUnexpectedEOF},
	}
	for name, c := range cases {
		_, err := ReadOutputHeader(bufio.NewReader(bytes.NewReader(c.frame)), 1<<20)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}
