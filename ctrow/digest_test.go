package ctrow

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func TestIsEmptyDigest(t *testing.T) {
	unhex := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	empty1 := unhex("da39a3ee5e6b4b0d3255bfef95601890afd80709")
	empty256 := unhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
	cert1, cert256 := sha1.Sum([]byte("a certificate")), sha256.Sum256([]byte("a certificate"))
	for _, tc := range []struct {
		name         string
		sha1, sha256 []byte
		want         bool
	}{
		{"both of empty input (certstream-server-go static-CT precert)", empty1, empty256, true},
		{"SHA-1 of empty input only", empty1, cert256[:], true},
		{"SHA-256 of empty input only", cert1[:], empty256, true},
		{"SHA-256 of empty input, SHA-1 not sent", nil, empty256, true},
		{"a certificate's", cert1[:], cert256[:], false},
		{"none sent", nil, nil, false},
		{"all zeros", make([]byte, 20), make([]byte, 32), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsEmptyDigest(tc.sha1, tc.sha256); got != tc.want {
				t.Errorf("IsEmptyDigest = %v, want %v", got, tc.want)
			}
		})
	}
}
