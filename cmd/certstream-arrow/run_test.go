package main

import "testing"

func TestMemoryLimit(t *testing.T) {
	tests := []struct {
		limit        string
		queue, batch int
		want         int64
		wantErr      bool
	}{
		{"auto", 4096, 1000, 48<<20 + 5096*8<<10, false}, // the defaults: 88 MiB
		{"auto", 4096, 5000, 48<<20 + 9096*8<<10, false}, // 119 MiB
		{"0", 4096, 1000, 0, false},
		{"256MiB", 4096, 1000, 256 << 20, false},
		{"lots", 4096, 1000, 0, true},
	}
	for _, tt := range tests {
		r := &RunCmd{MemoryLimit: tt.limit, QueueSize: tt.queue, BufferSize: tt.batch}
		got, err := r.memoryLimit()
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("%s with queue %d, batch %d: %d, %v; want %d (error %v)", tt.limit, tt.queue, tt.batch, got, err, tt.want, tt.wantErr)
		}
	}
}
