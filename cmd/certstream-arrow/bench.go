package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/gorilla/websocket"
	"github.com/klauspost/compress/zstd"

	"github.com/certstream-arrow/certstream-arrow/archive"
	"github.com/certstream-arrow/certstream-arrow/stream/streamgen"
)

// BenchCmd measures the archiver end to end on loopback. In each run it
// serves the same flood of generated messages twice: to a read-and-discard
// WebSocket client (the ceiling: what the socket can deliver), and to this
// very binary running as the archiver into a temporary dataset. Figures are
// ratios against the ceiling of the same run, because shared machines are
// noisy.
type BenchCmd struct {
	Stream     string   `enum:"lite,full" default:"lite" help:"Message shape: lite (no DER) or full (leaf and chain DER)."`
	Messages   int      `default:"200000" help:"Messages per run."`
	Runs       int      `default:"3" help:"Runs; the summary gives medians."`
	BufferSize int      `default:"1000" help:"--buffer-size of the archiver."`
	Pool       int      `default:"100000" help:"Distinct messages generated; longer floods cycle through them."`
	PadBytes   ByteSize `default:"0" help:"Pad each message with extra names in all_domains to about this size (0: as generated), e.g. 8MiB to measure memory under legal but huge messages; at most 16 distinct padded messages are generated."`
	Arg        []string `sep:"none" placeholder:"FLAG" help:"Extra flag for the archiver, e.g. --arg=--queue-bytes=32MiB. Repeatable."`
	Archiver   string   `placeholder:"PATH" help:"Archiver binary to measure (default: this one), e.g. an older build for a before/after comparison."`
}

// Validate checks the sizes.
func (b *BenchCmd) Validate() error {
	if b.Messages < 1 || b.Runs < 1 || b.Pool < 1 || b.BufferSize < 1 {
		return errors.New("--messages, --runs, --pool and --buffer-size must be positive")
	}
	return nil
}

type benchRun struct {
	ceiling, archiver time.Duration
	cpu               time.Duration
	rssKB             int64
	diskBytes         int64
}

// Run runs the benchmark and prints a table.
func (b *BenchCmd) Run(ctx context.Context, log *slog.Logger) error {
	pool, err := b.generate() // min(--pool, --messages) distinct messages
	if err != nil {
		return err
	}
	avg := float64(streamgen.MeanSize(pool))
	jsonZstd, err := zstdJSONLines(pool)
	if err != nil {
		return err
	}
	srv, err := startFlood(pool, b.Messages)
	if err != nil {
		return err
	}
	defer srv.Close()
	self := b.Archiver
	if self == "" {
		if self, err = os.Executable(); err != nil {
			return err
		}
	}
	fmt.Printf("stream=%s messages=%d (%.0f bytes avg) buffer-size=%d runs=%d\n", b.Stream, b.Messages, avg, b.BufferSize, b.Runs)
	fmt.Println("run  ceiling_msg/s  archiver_msg/s  ratio  cpu_s/1M  peak_rss_MB  disk_B/cert")
	var runs []benchRun
	for i := range b.Runs {
		r, err := b.once(ctx, srv, self)
		if err != nil {
			return fmt.Errorf("run %d: %w", i+1, err)
		}
		runs = append(runs, r)
		b.print(fmt.Sprint(i+1), r)
	}
	med := medianRun(runs)
	b.print("med", med)
	perCert := float64(med.diskBytes) / float64(b.Messages)
	jsonPerCert := float64(jsonZstd) / float64(len(pool))
	fmt.Printf("MB/s: ceiling %.1f, archiver %.1f; zstd JSON lines: %.0f B/cert; dataset/JSON = %.2f\n",
		rate(b.Messages, med.ceiling)*avg/1e6, rate(b.Messages, med.archiver)*avg/1e6, jsonPerCert, perCert/jsonPerCert)
	return nil
}

func (b *BenchCmd) generate() ([][]byte, error) {
	n := min(b.Pool, b.Messages)
	if b.PadBytes > 0 {
		n = min(n, 16)
	}
	pool := streamgen.New(streamgen.Options{Kind: streamgen.Kind(b.Stream), Seed: 1}).Take(n)
	for i, m := range pool {
		var err error
		if pool[i], err = padMessage(m, int(b.PadBytes)); err != nil {
			return nil, err
		}
	}
	return pool, nil
}

// padMessage adds names to msg's data.leaf_cert.all_domains until it is
// about size bytes long: a legal message, only huge.
func padMessage(msg []byte, size int) ([]byte, error) {
	if len(msg) >= size {
		return msg, nil
	}
	var m map[string]any
	if err := json.Unmarshal(msg, &m); err != nil {
		return nil, fmt.Errorf("pad message: %w", err)
	}
	data, _ := m["data"].(map[string]any)
	leaf, _ := data["leaf_cert"].(map[string]any)
	if leaf == nil {
		return nil, errors.New("pad message: no data.leaf_cert")
	}
	domains, _ := leaf["all_domains"].([]any)
	for n := len(msg); n < size; n += 27 {
		domains = append(domains, fmt.Sprintf("pad-%08d.example.com", len(domains)))
	}
	leaf["all_domains"] = domains
	return json.Marshal(m)
}

func (b *BenchCmd) print(label string, r benchRun) {
	n := float64(b.Messages)
	fmt.Printf("%-4s %13.0f %15.0f %6.2f %9.2f %12.1f %12.1f\n", label, rate(b.Messages, r.ceiling), rate(b.Messages, r.archiver),
		r.ceiling.Seconds()/r.archiver.Seconds(), r.cpu.Seconds()*1e6/n, float64(r.rssKB)/1024, float64(r.diskBytes)/n)
}

func rate(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }

// once measures the ceiling, then the archiver, on the same flood.
func (b *BenchCmd) once(ctx context.Context, srv *flood, self string) (benchRun, error) {
	var r benchRun
	var err error
	if r.ceiling, err = readAndDiscard(ctx, srv.url, b.Messages); err != nil {
		return r, fmt.Errorf("ceiling: %w", err)
	}
	dir, err := os.MkdirTemp("", "certstream-arrow-bench-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	args := append([]string{"run", "-u", srv.url, "-o", dir, "-b", fmt.Sprint(b.BufferSize),
		"--collector", "bench", "--stats-interval", "0", "--log-format", "json", "--log-level", "warn"}, b.Arg...)
	cmd := exec.CommandContext(ctx, self, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return r, err
	}
	hwm := watchPeakRSS(cmd.Process.Pid)
	select {
	case <-srv.synced:
	case <-time.After(10 * time.Minute):
		cmd.Process.Kill()
		return r, errors.New("archiver did not read the flood within 10 minutes")
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		return r, fmt.Errorf("archiver: %w\n%s", err, stderr.String())
	}
	r.archiver = time.Since(start)
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	r.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	r.rssKB = <-hwm
	rows, bytes, err := datasetSize(dir)
	if err != nil {
		return r, err
	}
	if rows != int64(b.Messages) {
		return r, fmt.Errorf("archived %d rows of %d messages", rows, b.Messages)
	}
	r.diskBytes = bytes
	return r, nil
}

// watchPeakRSS polls the process's VmHWM (its peak resident set, kB) until
// it exits, and sends the last value read. (getrusage's ru_maxrss would
// not do: Linux carries the parent's size over an exec from vfork.)
func watchPeakRSS(pid int) <-chan int64 {
	out := make(chan int64, 1)
	go func() {
		var peak int64
		for {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
			if err != nil {
				out <- peak
				return
			}
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
					var kb int64
					fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
					peak = max(peak, kb)
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return out
}

func medianRun(runs []benchRun) benchRun {
	med := func(get func(benchRun) int64) int64 {
		vals := make([]int64, len(runs))
		for i, r := range runs {
			vals[i] = get(r)
		}
		slices.Sort(vals)
		return vals[len(vals)/2]
	}
	return benchRun{
		ceiling:   time.Duration(med(func(r benchRun) int64 { return int64(r.ceiling) })),
		archiver:  time.Duration(med(func(r benchRun) int64 { return int64(r.archiver) })),
		cpu:       time.Duration(med(func(r benchRun) int64 { return int64(r.cpu) })),
		rssKB:     med(func(r benchRun) int64 { return r.rssKB }),
		diskBytes: med(func(r benchRun) int64 { return r.diskBytes }),
	}
}

// datasetSize returns the rows and bytes of the published files under dir,
// failing if any cannot be read.
func datasetSize(dir string) (rows, size int64, err error) {
	bad, err := archive.Walk(dir, archive.Visitor{
		File:  func(f archive.PublishedFile) { size += f.Size },
		Batch: func(_ archive.PublishedFile, rec arrow.RecordBatch) error { rows += rec.NumRows(); return nil },
	})
	if err == nil && len(bad) > 0 {
		err = fmt.Errorf("%s: %w", bad[0].Path, bad[0].Err)
	}
	return rows, size, err
}

func zstdJSONLines(msgs [][]byte) (int64, error) {
	var buf bytes.Buffer
	w, err := zstd.NewWriter(&buf) // default level, as `zstd` on the command line
	if err != nil {
		return 0, err
	}
	for _, m := range msgs {
		w.Write(m)
		w.Write([]byte{'\n'})
	}
	if err := w.Close(); err != nil {
		return 0, err
	}
	return int64(buf.Len()), nil
}

// readAndDiscard reads n messages into a reused buffer and returns how long
// it took from the start of the handshake.
func readAndDiscard(ctx context.Context, url string, n int) (time.Duration, error) {
	start := time.Now()
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	buf := make([]byte, 64<<10)
	for range n {
		_, r, err := conn.NextReader()
		if err != nil {
			return 0, err
		}
		for {
			if _, err := r.Read(buf); err == io.EOF {
				break
			} else if err != nil {
				return 0, err
			}
		}
	}
	return time.Since(start), nil
}

// flood is a loopback CertStream server that sends n messages, cycling
// through pool, to each connection, then pings; the pong (which can only
// follow every message) closes synced.
type flood struct {
	url    string
	srv    *http.Server
	synced chan struct{}
}

func startFlood(pool [][]byte, n int) (*flood, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &flood{url: "ws://" + ln.Addr().String() + "/", synced: make(chan struct{}, 1)}
	prepared := make([]*websocket.PreparedMessage, len(pool))
	for i, m := range pool {
		if prepared[i], err = websocket.NewPreparedMessage(websocket.TextMessage, m); err != nil {
			return nil, err
		}
	}
	up := websocket.Upgrader{WriteBufferSize: 64 << 10}
	f.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		conn.SetPongHandler(func(string) error { f.synced <- struct{}{}; return nil })
		go func() {
			for i := range n {
				if conn.WritePreparedMessage(prepared[i%len(prepared)]) != nil {
					return
				}
			}
			_ = conn.WriteControl(websocket.PingMessage, []byte("synced"), time.Now().Add(time.Minute))
		}()
		for {
			if _, _, err := conn.NextReader(); err != nil {
				return
			}
		}
	})}
	go f.srv.Serve(ln)
	return f, nil
}

// Close stops the server.
func (f *flood) Close() error { return f.srv.Close() }
