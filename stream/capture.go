package stream

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// ErrLineTooLong reports a capture line longer than the limit; Capture
// skips it and carries on with the next line.
var ErrLineTooLong = errors.New("line longer than the message size limit")

// Capture reads a recorded CertStream capture: JSON lines, one message per
// line, compressed with zstd (.zst) or gzip (.gz) or not at all, from a file
// or standard input ("-"). Blank lines are skipped. It is not safe for
// concurrent use, except Progress.
type Capture struct {
	r       *bufio.Reader
	src     *os.File
	raw     countingFileReader
	size    int64 // of the file, 0 for stdin
	max     int
	line    int
	closers []func() error
	buf     []byte
}

// OpenCapture opens path ("-" for standard input). Lines longer than
// maxLine bytes are reported with ErrLineTooLong and skipped.
func OpenCapture(path string, maxLine int) (*Capture, error) {
	c := &Capture{max: maxLine}
	if path == "-" {
		c.src = os.Stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("open capture: %w", err)
		}
		c.src, c.closers = f, append(c.closers, f.Close)
		if fi, err := f.Stat(); err == nil {
			c.size = fi.Size()
		}
	}
	c.raw.r = c.src
	var r io.Reader = &c.raw
	switch {
	case strings.HasSuffix(path, ".zst"):
		d, err := zstd.NewReader(r)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("open capture %s: %w", path, err), c.Close())
		}
		r, c.closers = d, append(c.closers, func() error { d.Close(); return nil })
	case strings.HasSuffix(path, ".gz"):
		g, err := gzip.NewReader(r)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("open capture %s: %w", path, err), c.Close())
		}
		r, c.closers = g, append(c.closers, g.Close)
	}
	c.r = bufio.NewReaderSize(r, 256<<10)
	return c, nil
}

// Next returns the next non-blank line and its 1-based line number. The
// line is valid until the next call. At the end it returns io.EOF. A line
// over the limit returns ErrLineTooLong with its number; call Next again to
// go on.
func (c *Capture) Next() ([]byte, int, error) {
	for {
		c.line++
		c.buf = c.buf[:0]
		tooLong := false
		for {
			chunk, err := c.r.ReadSlice('\n')
			if !tooLong {
				c.buf = append(c.buf, chunk...)
				tooLong = len(c.buf) > c.max+2
			}
			if err == bufio.ErrBufferFull {
				continue
			}
			if err == io.EOF && len(c.buf) == 0 && !tooLong {
				return nil, c.line, io.EOF
			}
			if err != nil && err != io.EOF {
				return nil, c.line, fmt.Errorf("read capture line %d: %w", c.line, err)
			}
			break
		}
		if tooLong {
			return nil, c.line, ErrLineTooLong
		}
		if line := bytes.TrimSpace(c.buf); len(line) > 0 {
			return line, c.line, nil
		}
	}
}

// Progress returns the bytes of the (compressed) input read so far and its
// size, 0 when unknown (standard input). Safe to call from any goroutine.
func (c *Capture) Progress() (read, size int64) {
	return c.raw.n.Load(), c.size
}

// Close closes the input.
func (c *Capture) Close() error {
	var errs []error
	for i := len(c.closers) - 1; i >= 0; i-- {
		errs = append(errs, c.closers[i]())
	}
	return errors.Join(errs...)
}

type countingFileReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingFileReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
