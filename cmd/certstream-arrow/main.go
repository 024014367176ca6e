// Command certstream-arrow archives a CertStream WebSocket feed into a
// dataset of hourly, zstd-compressed Arrow Feather files. See README.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kong"
)

func main() {
	var cli CLI
	parser, err := kong.New(&cli, cli.options()...)
	if err != nil {
		panic(err) // the CLI struct itself is malformed: a programming error
	}
	kctx, err := parser.Parse(helpArgs(parser, os.Args[1:]))
	if err != nil {
		fmt.Fprintf(os.Stderr, "certstream-arrow: %v\n", err)
		os.Exit(2)
	}
	log := newLogger(os.Stderr, cli.LogLevel, cli.LogFormat)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		log.Info("stopping: closing the connection (archiving what arrives until the server's close frame), then writing buffered rows and publishing open files", "signal", s.String())
		cancel()
		s = <-sigs
		log.Error("second signal: exiting at once; unpublished rows stay in temporary files", "signal", s.String())
		os.Exit(1)
	}()

	kctx.BindTo(ctx, (*context.Context)(nil))
	if err := kctx.Run(log); err != nil {
		log.Error("exiting", "err", err)
		os.Exit(1)
	}
}
