package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestLoggerFormats(t *testing.T) {
	tests := []struct {
		level, format string
		check         func(t *testing.T, out string)
	}{
		{"trace", "json", func(t *testing.T, out string) {
			var rec map[string]any
			if err := json.Unmarshal([]byte(strings.Split(out, "\n")[0]), &rec); err != nil {
				t.Fatalf("not JSON: %q", out)
			}
			if rec["level"] != "TRACE" || rec["wait"] != "1.5s" {
				t.Errorf("record %v", rec)
			}
		}},
		{"info", "json", func(t *testing.T, out string) {
			if strings.Contains(out, "TRACE") || !strings.Contains(out, `"msg":"info line"`) {
				t.Errorf("output %q", out)
			}
		}},
		{"debug", "text", func(t *testing.T, out string) {
			if strings.Contains(out, "\x1b[") || !strings.Contains(out, "info line") || strings.Contains(out, "trace line") {
				t.Errorf("text output %q", out)
			}
		}},
		{"info", "auto", func(t *testing.T, out string) { // not a terminal: JSON
			if !strings.HasPrefix(out, "{") {
				t.Errorf("auto on a pipe is not JSON: %q", out)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.level+"/"+tt.format, func(t *testing.T) {
			var buf bytes.Buffer
			log := newLogger(&buf, tt.level, tt.format)
			log.Log(context.Background(), levelTrace, "trace line", "wait", 1500*time.Millisecond)
			log.Info("info line")
			tt.check(t, buf.String())
		})
	}
}
