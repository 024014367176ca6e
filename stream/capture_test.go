package stream_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
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
