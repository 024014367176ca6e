package ctlog

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"
)

// DefaultListURL is Google's published list of logs Chrome trusts.
const DefaultListURL = "https://www.gstatic.com/ct/log_list/v3/log_list.json"

// listEndpoint caps a log list (Google's is about 100 KiB).
var listEndpoint = endpoint{limit: 16 << 20}

// Log is one log of a list.
type Log struct {
	Description   string
	Operator      string
	URL           string // RFC 6962 log URL, or static-CT monitoring prefix
	SubmissionURL string // static-CT only
	Tiled         bool   // static-CT (c2sp.org/static-ct-api)
	Key           crypto.PublicKey
	KeyDER        []byte // SubjectPublicKeyInfo
	LogID         [32]byte
	MMD           time.Duration
	State         string    // "usable", "readonly", "retired", ...; "" if the list says none
	NotAfterStart time.Time // temporal interval: accepts certificates expiring in
	NotAfterLimit time.Time // [NotAfterStart, NotAfterLimit); zero if unsharded
}

// List is a parsed Chrome v3 log list. Immutable and safe for concurrent
// use.
type List struct {
	logs  []*Log
	byURL map[string]*Log // nil value: two logs claim the URL
}

// LoadList reads a log list from src: an http(s) URL, a file path, or ""
// for DefaultListURL. hc may be nil.
func LoadList(ctx context.Context, src string, hc *http.Client) (*List, error) {
	if src == "" {
		src = DefaultListURL
	}
	var (
		data []byte
		err  error
	)
	if strings.HasPrefix(src, "https://") || strings.HasPrefix(src, "http://") {
		f := newFetcher(Options{HTTPClient: hc}.withDefaults(), &counters{})
		data, err = f.get(ctx, src, listEndpoint)
	} else {
		data, err = readFileCapped(src, listEndpoint.limit)
	}
	if err != nil {
		return nil, fmt.Errorf("load log list %s: %w", src, err)
	}
	l, err := ParseList(data)
	if err != nil {
		return nil, fmt.Errorf("load log list %s: %w", src, err)
	}
	return l, nil
}

func readFileCapped(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readCapped(f, limit)
}

// ParseList parses a Chrome v3 log_list.json, RFC 6962 logs and tiled logs.
// A log whose key does not parse or does not hash to its log_id is an
// error: a list that lies about keys is not to be trusted at all.
func ParseList(data []byte) (*List, error) {
	var ll jsonList
	if err := json.Unmarshal(data, &ll); err != nil {
		return nil, err
	}
	l := &List{byURL: map[string]*Log{}}
	for _, op := range ll.Operators {
		for _, g := range op.Logs {
			lg, err := newLog(op.Name, g)
			if err != nil {
				return nil, err
			}
			lg.URL = g.URL
			l.add(lg, g.URL)
		}
		for _, g := range op.TiledLogs {
			lg, err := newLog(op.Name, g)
			if err != nil {
				return nil, err
			}
			lg.URL, lg.SubmissionURL, lg.Tiled = g.MonitoringURL, g.SubmissionURL, true
			l.add(lg, g.MonitoringURL, g.SubmissionURL)
		}
	}
	return l, nil
}

func newLog(op string, g jsonLog) (*Log, error) {
	pub, err := x509.ParsePKIXPublicKey(g.Key)
	if err != nil {
		return nil, fmt.Errorf("log %q: key: %w", g.Description, err)
	}
	lg := &Log{
		Description: g.Description, Operator: op, Key: pub, KeyDER: g.Key,
		LogID: keyID(g.Key), MMD: time.Duration(g.MMD) * time.Second, State: g.State.name(),
	}
	if string(lg.LogID[:]) != string(g.LogID) {
		return nil, fmt.Errorf("log %q: log_id is not the SHA-256 of its key", g.Description)
	}
	if ti := g.TemporalInterval; ti != nil {
		lg.NotAfterStart, lg.NotAfterLimit = ti.StartInclusive, ti.EndExclusive
	}
	return lg, nil
}

func (l *List) add(lg *Log, urls ...string) {
	l.logs = append(l.logs, lg)
	for _, u := range urls {
		if u == "" {
			continue
		}
		k := urlKey(u)
		if prev, seen := l.byURL[k]; seen && prev != lg {
			l.byURL[k] = nil // ambiguous: never guess
			continue
		}
		l.byURL[k] = lg
	}
}

// Logs returns every log of the list, in list order.
func (l *List) Logs() []*Log { return l.logs }

// Lookup finds the log a CertStream source.url names: an RFC 6962 log URL,
// or a static-CT log's monitoring or submission URL. Scheme, host case and
// trailing slashes do not matter; anything else must match exactly. An
// unknown or ambiguous URL reports false.
func (l *List) Lookup(sourceURL string) (*Log, bool) {
	lg := l.byURL[urlKey(sourceURL)]
	return lg, lg != nil
}

// urlKey normalises a log URL: no scheme, lowercase host, no default port,
// no trailing slashes.
func urlKey(u string) string {
	u = strings.TrimSpace(u)
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	host, path, _ := strings.Cut(u, "/")
	host = strings.TrimSuffix(strings.TrimSuffix(strings.ToLower(host), ":443"), ":80")
	return strings.TrimRight(host+"/"+path, "/")
}

// The Chrome v3 log list, as far as this package reads it
// (https://www.gstatic.com/ct/log_list/v3/log_list_schema.json).
// certificate-transparency-go's loglist3 has the same types but imports
// k8s.io/klog for its filters, a dependency this program does not need.
type jsonList struct {
	Operators []struct {
		Name      string    `json:"name"`
		Logs      []jsonLog `json:"logs"`
		TiledLogs []jsonLog `json:"tiled_logs"`
	} `json:"operators"`
}

type jsonLog struct {
	Description      string     `json:"description"`
	LogID            []byte     `json:"log_id"`
	Key              []byte     `json:"key"`
	URL              string     `json:"url"`
	SubmissionURL    string     `json:"submission_url"`
	MonitoringURL    string     `json:"monitoring_url"`
	MMD              int32      `json:"mmd"`
	State            jsonStates `json:"state"`
	TemporalInterval *struct {
		StartInclusive time.Time `json:"start_inclusive"`
		EndExclusive   time.Time `json:"end_exclusive"`
	} `json:"temporal_interval"`
}

// jsonStates has one key set: the log's current state.
type jsonStates map[string]json.RawMessage

func (s jsonStates) name() string {
	for _, k := range []string{"pending", "qualified", "usable", "readonly", "retired", "rejected"} {
		if _, ok := s[k]; ok {
			return k
		}
	}
	return ""
}
