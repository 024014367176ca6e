package stream

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// ErrAuthConflict is returned when a server URL carries user:password and
// the handshake headers already set Authorization: one of them would be
// silently ignored.
var ErrAuthConflict = errors.New("the URL carries user:password and a header already sets Authorization; use one of them")

// CheckURL accepts ws:// and wss:// URLs with a host, and with or without
// user:password (sent as HTTP Basic authentication, see Endpoint). Its
// errors never contain the password.
func CheckURL(raw string) error {
	_, err := parseURL(raw)
	return err
}

// parseURL parses and checks a server URL, with errors that show it
// without userinfo.
func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the raw URL, password and all
		}
		return nil, fmt.Errorf("server URL %q: %w", RedactURL(raw), err)
	}
	if (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: want ws://host[:port]/path or wss://host[:port]/path", RedactURL(raw))
	}
	return u, nil
}

// Endpoint splits a server URL into the URL to dial, without userinfo, and
// the handshake headers: a copy of header plus, when the URL carries
// user:password, "Authorization: Basic ..." (RFC 7617), as browsers do for
// such a URL. Gorilla's dialer refuses userinfo in a URL, and a URL is
// logged, so the password must not stay in it.
func Endpoint(raw string, header http.Header) (string, http.Header, error) {
	u, err := parseURL(raw)
	if err != nil {
		return "", nil, err
	}
	h := header.Clone()
	if h == nil {
		h = http.Header{}
	}
	if u.User == nil {
		return u.String(), h, nil
	}
	if h.Get("Authorization") != "" {
		return "", nil, fmt.Errorf("server URL %q: %w", RedactURL(raw), ErrAuthConflict)
	}
	pass, _ := u.User.Password()
	cred := base64.StdEncoding.EncodeToString([]byte(u.User.Username() + ":" + pass))
	h.Set("Authorization", "Basic "+cred)
	u.User = nil
	return u.String(), h, nil
}

// RedactURL returns raw without its userinfo, for logs and errors. It
// works on text that does not parse as a URL, too.
func RedactURL(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		scheme, rest = "", raw
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndex(rest[:end], "@")
	if at < 0 {
		return raw
	}
	if ok {
		scheme += "://"
	}
	return scheme + rest[at+1:]
}
