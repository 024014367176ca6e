package main

import (
	"strings"
	"testing"
)

// The byte bounds are refused outside the range the readers' per-batch
// budget was sized for, and the backlog must hold at least one batch.
func TestValidateByteBounds(t *testing.T) {
	for _, tt := range []struct {
		name         string
		batch, total ByteSize
		wantErr      string
	}{
		{"defaults", 32 << 20, 256 << 20, ""},
		{"smallest batch", 1 << 20, 1 << 20, ""},
		{"largest batch", 512 << 20, 512 << 20, ""},
		{"zero batch", 0, 256 << 20, "--batch-bytes must be between 1MiB and 512MiB"},
		{"batch too big", 513 << 20, 1 << 30, "--batch-bytes must be between 1MiB and 512MiB"},
		{"backlog below a batch", 32 << 20, 16 << 20, "--max-pending-bytes must be at least --batch-bytes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := testRunCmd("ws://127.0.0.1:1/", t.TempDir())
			r.BatchBytes, r.MaxPendingBytes = tt.batch, tt.total
			err := r.Validate()
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Validate: %v, want %q", err, tt.wantErr)
			}
		})
	}
}
