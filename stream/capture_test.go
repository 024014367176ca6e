package stream_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/certstream-arrow/certstream-arrow/stream"
)

func TestCaptureFormats(t *testing.T) {
	content := "{\"a\":1}\n\n   \n{\"b\":2}\r\n" + strings.Repeat("x", 100) + "\n{\"c\":3}" // last line without newline
	compress := map[string]func([]byte) []byte{
		".jsonl": func(b []byte) []byte { return b },
		".jsonl.zst": func(b []byte) []byte {
			var buf bytes.Buffer
			w, _ := zstd.NewWriter(&buf)
			w.Write(b)
			w.Close()
			return buf.Bytes()
		},
		".jsonl.gz": func(b []byte) []byte {
			var buf bytes.Buffer
			w := gzip.NewWriter(&buf)
			w.Write(b)
			w.Close()
			return buf.Bytes()
		},
	}
	for ext, fn := range compress {
		t.Run(ext, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "capture"+ext)
			if err := os.WriteFile(path, fn([]byte(content)), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := stream.OpenCapture(path, 50)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var got []string
			for {
				line, n, err := c.Next()
				if err == io.EOF {
					break
				}
				if errors.Is(err, stream.ErrLineTooLong) {
					got = append(got, "too long at "+string(rune('0'+n)))
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, string(line)+" at "+string(rune('0'+n)))
			}
			want := []string{`{"a":1} at 1`, `{"b":2} at 4`, "too long at 5", `{"c":3} at 6`}
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Fatalf("got %q", got)
			}
			if read, size := c.Progress(); read != size || size == 0 {
				t.Fatalf("progress %d of %d", read, size)
			}
		})
	}
}

// zstdFrame is a zstd frame of one raw block holding content, whose header
// declares a window of 1<<windowLog bytes.
func zstdFrame(windowLog int, content []byte) []byte {
	frame := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, byte(windowLog-10) << 3} // magic, no size or checksum, window
	block := uint32(1 | len(content)<<3)                                   // last block, raw
	frame = append(frame, byte(block), byte(block>>8), byte(block>>16))
	return append(frame, content...)
}

// A small capture declaring a huge zstd window is refused with a clear
// error instead of having the decoder take the window: before the bound,
// the 512 MiB one allocated more than 512 MiB.
func TestCaptureBoundsZstdWindow(t *testing.T) {
	cases := []struct {
		name      string
		windowLog int
		ok        bool
	}{
		{"8 MiB (zstd -19)", 23, true},
		{"128 MiB (zstd --long)", 27, true},
		{"512 MiB", 29, false},
		{"2 GiB", 31, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "capture.jsonl.zst")
			if err := os.WriteFile(path, zstdFrame(tc.windowLog, []byte("{\"a\":1}\n")), 0o644); err != nil {
				t.Fatal(err)
			}
			var line []byte
			var err error
			grew := heapGrowth(func() {
				c, openErr := stream.OpenCapture(path, 1<<20)
				if openErr != nil {
					t.Fatal(openErr)
				}
				defer c.Close()
				line, _, err = c.Next()
			})
			switch {
			case tc.ok && (err != nil || string(line) != `{"a":1}`):
				t.Errorf("line %q, err %v", line, err)
			case !tc.ok && !errors.Is(err, zstd.ErrWindowSizeExceeded):
				t.Errorf("line %q, err %v, want %v", line, err, zstd.ErrWindowSizeExceeded)
			case !tc.ok && !strings.Contains(err.Error(), "at most 128 MiB"):
				t.Errorf("err %v does not say the limit", err)
			case !tc.ok && grew > 32<<20:
				t.Errorf("refusing the capture allocated %d bytes", grew)
			}
		})
	}
}

// heapGrowth returns how many bytes the Go heap allocated while fn ran.
func heapGrowth(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
