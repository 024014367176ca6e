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

// MaxCaptureWindow bounds the window of a zstd capture, and so the memory
// its decoder holds: the decoder keeps a window of history, whose size the
// file declares, so a small file declaring the format's 512 MiB (or more)
// would otherwise take that much. 128 MiB is the largest window the zstd
// command line writes with its usual flags (levels up to 19 use at most
// 8 MiB; --ultra -22 and --long use 128 MiB), so any capture made with them
// reads. A larger window fails the import with an error wrapping
// zstd.ErrWindowSizeExceeded. gzip needs no bound (its window is 32 KiB),
// and lines are bounded by the line limit whatever the compression.
const MaxCaptureWindow = 128 << 20

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
		d, err := zstd.NewReader(r, zstd.WithDecoderMaxWindow(MaxCaptureWindow), zstd.WithDecoderMaxMemory(MaxCaptureWindow))
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
				return nil, c.line, readError(c.line, err)
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

// readError says why line could not be read.
func readError(line int, err error) error {
	if errors.Is(err, zstd.ErrWindowSizeExceeded) || errors.Is(err, zstd.ErrDecoderSizeExceeded) {
		return fmt.Errorf("read capture line %d: %w (a zstd window may be at most %d MiB: recompress with a lower level or without --long)",
			line, err, MaxCaptureWindow>>20)
	}
	return fmt.Errorf("read capture line %d: %w", line, err)
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
