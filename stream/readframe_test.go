package stream

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// zeros is an endless source of zero bytes, like a message inflating
// without end.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// readFrame takes at most MaxMessageBytes+1 bytes from a message, however
// much the reader would return: gorilla's read limit counts bytes on the
// wire, and an inflating reader returns many more.
func TestReadFrameBoundsBytesRead(t *testing.T) {
	const limit = 64 << 10
	tests := []struct {
		name     string
		src      io.Reader
		wantLen  int   // of the frame, when no error
		wantErr  error // nil or ErrOversize
		maxTaken int64
	}{
		{"empty", bytes.NewReader(nil), 0, nil, 0},
		{"exactly the limit", bytes.NewReader(make([]byte, limit)), limit, nil, limit},
		{"one byte over", bytes.NewReader(make([]byte, limit+1)), 0, ErrOversize, limit + 1},
		{"4 MiB", bytes.NewReader(make([]byte, 4<<20)), 0, ErrOversize, limit + 1},
		{"endless", zeros{}, 0, ErrOversize, limit + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClient(Config{URL: "ws://127.0.0.1/", MaxMessageBytes: limit})
			if err != nil {
				t.Fatal(err)
			}
			src := &countingReader{r: io.LimitReader(tt.src, 64<<20)} // a guard for the old code
			f, err := c.readFrame(src)
			if !errors.Is(err, tt.wantErr) || src.n > tt.maxTaken {
				t.Fatalf("read %d bytes, frame %d bytes, err %v; want at most %d read and err %v",
					src.n, len(f.Data), err, tt.maxTaken, tt.wantErr)
			}
			if err == nil && len(f.Data) != tt.wantLen {
				t.Fatalf("frame %d bytes, want %d", len(f.Data), tt.wantLen)
			}
			if cap(f.Data) > 2*limit {
				t.Fatalf("buffer capacity %d for a limit of %d", cap(f.Data), limit)
			}
			f.Release()
		})
	}
}
