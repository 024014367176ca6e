package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
	"github.com/valyala/fastjson"

	"github.com/certstream-arrow/certstream-arrow/stream"
	"github.com/certstream-arrow/certstream-arrow/stream/streamgen"
)

// ServeCmd is a CertStream-compatible server for trying the archiver
// offline: it replays a capture, or generates realistic messages, to every
// client. Like the real servers it offers / (the --stream kind),
// /full-stream and /domains-only, sends heartbeats and answers pings.
type ServeCmd struct {
	File      string        `arg:"" optional:"" name:"FILE" help:"Capture to replay (JSON lines; .zst, .gz, or - for stdin). Without it, messages are generated."`
	Synthetic bool          `help:"Generate realistic messages (the default when no FILE is given)."`
	Addr      string        `default:"127.0.0.1:8080" help:"Address to listen on (port 0 picks a free one)."`
	Stream    string        `enum:"full,lite,domains-only" default:"lite" help:"What / serves: full, lite (no DER) or domains-only."`
	Rate      int           `default:"500" help:"Messages per second per client, about the live CT rate (0: as fast as the client reads)."`
	Loop      bool          `help:"Start the capture again at its end, forever."`
	Count     int           `default:"0" help:"Stop sending messages after this many per client (0: no limit; synthetic streams are endless)."`
	Heartbeat time.Duration `default:"30s" help:"Send a heartbeat message this often."`

	ready func(url string) `kong:"-"` // tests: called with ws://host:port/ once listening
}

// Validate checks the source and numbers.
func (s *ServeCmd) Validate() error {
	if s.File != "" && s.Synthetic {
		return errors.New("give a FILE or --synthetic, not both")
	}
	if s.Rate < 0 || s.Count < 0 || s.Heartbeat <= 0 {
		return errors.New("--rate and --count must not be negative, --heartbeat must be positive")
	}
	return nil
}

// Run serves until ctx is cancelled.
func (s *ServeCmd) Run(ctx context.Context, log *slog.Logger) error {
	var stdin [][]byte
	if s.File == "-" { // standard input can be read once: keep it
		var err error
		if stdin, err = readAllLines(s.File); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	url := "ws://" + ln.Addr().String() + "/"
	mux := http.NewServeMux()
	for path, kind := range map[string]string{"/": s.Stream, "/full-stream": "full", "/domains-only": "domains-only"} {
		mux.Handle(path, s.handler(ctx, log, kind, stdin))
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Info("serving", "url", url, "stream", s.Stream, "also", url+"full-stream "+url+"domains-only", "source", s.source())
	fmt.Println("serving CertStream on " + url)
	if s.ready != nil {
		s.ready(url)
	}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (s *ServeCmd) source() string {
	if s.File == "" {
		return "synthetic"
	}
	return s.File
}

func (s *ServeCmd) handler(ctx context.Context, log *slog.Logger, kind string, stdin [][]byte) http.Handler {
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" && r.URL.Path != "/full-stream" && r.URL.Path != "/domains-only" {
			http.NotFound(w, r)
			return
		}
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		gone := make(chan struct{})
		go func() { // read to answer pings and notice the client leaving
			defer close(gone)
			for {
				if _, _, err := conn.NextReader(); err != nil {
					return
				}
			}
		}()
		log.Info("client connected", "remote", r.RemoteAddr, "stream", kind)
		err = s.feed(ctx, conn, kind, stdin, gone)
		log.Info("client gone", "remote", r.RemoteAddr, "err", err)
	})
}

// feed sends messages shaped as kind, with heartbeats, until the client
// leaves or the source (and --count) is exhausted; then only heartbeats.
func (s *ServeCmd) feed(ctx context.Context, conn *websocket.Conn, kind string, stdin [][]byte, gone <-chan struct{}) error {
	next, closeSrc, err := s.messages(stdin)
	if err != nil {
		return err
	}
	defer closeSrc()
	heartbeat := time.NewTicker(s.Heartbeat)
	defer heartbeat.Stop()
	var pace <-chan time.Time
	perTick := 0
	if s.Rate > 0 {
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		pace, perTick = t.C, max(s.Rate/100, 1)
	}
	var shaper fastjson.Parser
	ready := make(chan struct{}) // always ready: enables the send case
	close(ready)
	sent, budget := 0, perTick
	for {
		var send <-chan struct{}
		if next != nil && (s.Count == 0 || sent < s.Count) && (pace == nil || budget > 0) {
			send = ready
		}
		select {
		case <-ctx.Done():
			return nil
		case <-gone:
			return nil
		case <-heartbeat.C:
			if err := sendHeartbeat(conn); err != nil {
				return err
			}
		case <-pace:
			budget = perTick
		case <-send:
			msg, ok := next()
			if !ok {
				next = nil
				continue
			}
			if err := conn.WriteMessage(websocket.TextMessage, shape(&shaper, msg, kind)); err != nil {
				return err
			}
			sent++
			budget--
		}
	}
}

func sendHeartbeat(conn *websocket.Conn) error {
	hb := fmt.Sprintf(`{"message_type":"heartbeat","timestamp":%.3f}`, float64(time.Now().UnixMilli())/1000)
	return conn.WriteMessage(websocket.TextMessage, []byte(hb))
}

// messages returns the source as an iterator: the capture (reopened at its
// end with --loop), standard input kept in memory, or a generator.
func (s *ServeCmd) messages(stdin [][]byte) (func() ([]byte, bool), func(), error) {
	switch {
	case s.File == "":
		g := streamgen.New(streamgen.Options{Kind: streamgen.Full, Seed: 1, Start: time.Now().UTC(), Step: time.Millisecond})
		return func() ([]byte, bool) { return g.Next(), true }, func() {}, nil
	case s.File == "-":
		i := 0
		return func() ([]byte, bool) {
			if i == len(stdin) && s.Loop && len(stdin) > 0 {
				i = 0
			}
			if i == len(stdin) {
				return nil, false
			}
			i++
			return stdin[i-1], true
		}, func() {}, nil
	}
	capture, err := stream.OpenCapture(s.File, 16<<20)
	if err != nil {
		return nil, nil, err
	}
	sinceOpen := 0 // lines returned since the capture was (re)opened
	next := func() ([]byte, bool) {
		for {
			line, _, err := capture.Next()
			switch {
			case err == nil:
				sinceOpen++
				return line, true
			case errors.Is(err, stream.ErrLineTooLong):
				continue
			case err == io.EOF && s.Loop && sinceOpen > 0:
				capture.Close()
				if capture, err = stream.OpenCapture(s.File, 16<<20); err != nil {
					return nil, false
				}
				sinceOpen = 0
			default:
				return nil, false
			}
		}
	}
	return next, func() { capture.Close() }, nil
}

// shape turns a full-stream message into what the kind's endpoint sends:
// full as is, lite without DER (leaf and chain), domains-only as a
// dns_entries message. Other messages and unparsable lines pass unchanged.
func shape(p *fastjson.Parser, msg []byte, kind string) []byte {
	if kind == "full" {
		return msg
	}
	v, err := p.ParseBytes(msg)
	if err != nil || string(v.GetStringBytes("message_type")) != "certificate_update" {
		return msg
	}
	if kind == "domains-only" {
		var a fastjson.Arena
		out := a.NewObject()
		out.Set("message_type", a.NewString("dns_entries"))
		domains := v.Get("data", "leaf_cert", "all_domains")
		if domains == nil {
			domains = a.NewArray()
		}
		out.Set("data", domains)
		return out.MarshalTo(nil)
	}
	if leaf := v.Get("data", "leaf_cert"); leaf != nil {
		leaf.Del("as_der")
	}
	for _, c := range v.GetArray("data", "chain") {
		c.Del("as_der")
	}
	return v.MarshalTo(nil)
}

func readAllLines(path string) ([][]byte, error) {
	c, err := stream.OpenCapture(path, 16<<20)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var lines [][]byte
	for {
		line, _, err := c.Next()
		switch {
		case err == io.EOF:
			return lines, nil
		case errors.Is(err, stream.ErrLineTooLong):
			continue
		case err != nil:
			return nil, err
		}
		lines = append(lines, append([]byte(nil), line...))
	}
}
