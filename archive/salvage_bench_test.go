package archive

import (
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/certstream-arrow/certstream-arrow/stream"
	"github.com/certstream-arrow/certstream-arrow/stream/streamgen"
)

// fullRows returns a row maker cycling through n decoded full-stream
// messages, numbered in order and received in crashHour.
func fullRows(tb testing.TB, n int) func(int) *stream.Update {
	tb.Helper()
	var dec stream.Decoder
	updates := make([]stream.Update, n)
	for i, m := range streamgen.New(streamgen.Options{Kind: streamgen.Full}).Take(n) {
		u, err := dec.Decode(m)
		if err != nil {
			tb.Fatal(err)
		}
		updates[i] = *u
		updates[i].DER = append([]byte(nil), u.DER...)
		updates[i].SHA1 = append([]byte(nil), u.SHA1...)
		updates[i].SHA256 = append([]byte(nil), u.SHA256...)
		updates[i].Domains = cloneAll(u.Domains)
		updates[i].ChainNames = cloneAll(u.ChainNames)
	}
	return func(i int) *stream.Update {
		u := updates[i%n]
		u.ReceivedAt, u.CertIndex, u.HasCertIndex = crashHour.Add(time.Second), int64(i), true
		return &u
	}
}

// BenchmarkSalvage measures salvaging a crashed temporary file of about 32
// MiB of full-stream rows (40 batches of 1000, torn in its last one), in
// place and by copy. Each run starts from the same leftover, written and
// fsynced with the timer stopped, as one is after a crash; SetBytes is the
// leftover's size, so MB/s is salvage throughput.
func BenchmarkSalvage(b *testing.B) {
	root := b.TempDir()
	opts := testOptions(root, "crashed")
	opts.BatchRows, opts.FsyncBatch = 1000, false
	mk := fullRows(b, 1000)
	tmp := crashInto(b, opts, 40_500, mk)
	fi, err := os.Stat(tmp)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.Truncate(tmp, fi.Size()-100); err != nil { // a torn last batch
		b.Fatal(err)
	}
	leftover, err := os.ReadFile(tmp)
	if err != nil {
		b.Fatal(err)
	}
	dir, base := filepath.Base(filepath.Dir(tmp)), filepath.Base(tmp)
	final, _, _ := parseTmp(base)
	r, err := os.OpenRoot(root)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	for _, mode := range []string{"in-place", "copy"} {
		b.Run("mode="+mode, func(b *testing.B) {
			s := &salvager{fsys: rootFS{r}, mem: memory.DefaultAllocator, log: slog.New(slog.DiscardHandler)}
			b.SetBytes(int64(len(leftover)))
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				stage(b, root, tmp, leftover, path.Join(dir, final))
				b.StartTimer()
				var err error
				if mode == "in-place" {
					err = s.file(dir, base, final)
				} else {
					err = s.byCopy(dir, base, final, true)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			if mode == "in-place" && s.report.InPlace != s.report.Salvaged || mode == "copy" && s.report.InPlace != 0 {
				b.Fatalf("report %+v: not salvaged %s", s.report, mode)
			}
		})
	}
}

// stage removes what the last salvage published and writes the leftover
// again, fsynced, so that salvage starts from what a crash leaves.
func stage(b *testing.B, root, tmp string, leftover []byte, final string) {
	b.Helper()
	if err := os.Remove(filepath.Join(root, final)); err != nil && !os.IsNotExist(err) {
		b.Fatal(err)
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	_, err = f.Write(leftover)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		b.Fatal(err)
	}
}
