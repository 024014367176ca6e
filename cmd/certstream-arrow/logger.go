package main

import (
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/lmittmann/tint"
)

// levelTrace sits below debug, for per-message logging.
const levelTrace = slog.LevelDebug - 4

var levels = map[string]slog.Level{
	"trace": levelTrace, "debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError,
}

// newLogger builds the program's one logger. format auto means tint with
// colour when w is a terminal, JSON otherwise (journald, files, pipes).
func newLogger(w io.Writer, level, format string) *slog.Logger {
	lvl := levels[strings.ToLower(level)]
	if format == "auto" {
		format = "json"
		if isTerminal(w) {
			format = "tint"
		}
	}
	switch format {
	case "tint", "text":
		return slog.New(tint.NewHandler(w, &tint.Options{
			Level: lvl, TimeFormat: "2006-01-02T15:04:05.000Z07:00", NoColor: format == "text",
			ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
				if a.Key == slog.LevelKey && len(groups) == 0 && a.Value.Any() == levelTrace {
					return tint.Attr(13, slog.String(a.Key, "TRC"))
				}
				return a
			},
		}))
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: lvl,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			switch {
			case a.Key == slog.LevelKey && len(groups) == 0 && a.Value.Any() == levelTrace:
				return slog.String(a.Key, "TRACE")
			case a.Value.Kind() == slog.KindDuration: // "1.5s", not 1500000000
				return slog.String(a.Key, a.Value.Duration().String())
			}
			return a
		},
	}))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
