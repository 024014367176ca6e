package ctlogtest

import (
	"encoding/json"

	"github.com/certstream-arrow/certstream-arrow/ctlog"
)

// ListJSON returns a Chrome v3 log_list.json naming logs, RFC 6962 ones
// under "logs" and static-CT ones under "tiled_logs", all of one
// operator.
func ListJSON(logs ...*ctlog.Log) []byte {
	type jl struct {
		Description   string `json:"description"`
		LogID         []byte `json:"log_id"`
		Key           []byte `json:"key"`
		URL           string `json:"url,omitempty"`
		SubmissionURL string `json:"submission_url,omitempty"`
		MonitoringURL string `json:"monitoring_url,omitempty"`
		MMD           int    `json:"mmd"`
		State         any    `json:"state"`
	}
	op := struct {
		Name      string   `json:"name"`
		Email     []string `json:"email"`
		Logs      []jl     `json:"logs"`
		TiledLogs []jl     `json:"tiled_logs"`
	}{Name: "ctlogtest", Email: []string{"ctlogtest@example.com"}, Logs: []jl{}, TiledLogs: []jl{}}
	for _, lg := range logs {
		j := jl{
			Description: lg.Description, LogID: lg.LogID[:], Key: lg.KeyDER, MMD: int(lg.MMD.Seconds()),
			State: map[string]any{"usable": map[string]string{"timestamp": "2025-01-01T00:00:00Z"}},
		}
		if lg.Tiled {
			j.SubmissionURL, j.MonitoringURL = lg.SubmissionURL, lg.URL
			op.TiledLogs = append(op.TiledLogs, j)
		} else {
			j.URL = lg.URL
			op.Logs = append(op.Logs, j)
		}
	}
	b, err := json.Marshal(map[string]any{
		"version": "1.0", "log_list_timestamp": "2026-01-01T00:00:00Z", "operators": []any{op},
	})
	if err != nil {
		panic(err)
	}
	return b
}
