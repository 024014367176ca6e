package stream

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
)

// The digests of empty input. No certificate has them: a server that sends
// one (certstream-server-go 1.9 does, for every precertificate of a
// static-CT log, with the DER left out) has hashed a DER it did not have.
var (
	EmptySHA1   = sha1.Sum(nil)      // da39a3ee5e6b4b0d3255bfef95601890afd80709
	EmptySHA256 = sha256.Sum256(nil) // e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
)

// IsEmptyDigest reports whether sha1 or sha256 is the digest of empty
// input, which is never a certificate's. Either may be nil (not sent).
func IsEmptyDigest(sha1, sha256 []byte) bool {
	return bytes.Equal(sha1, EmptySHA1[:]) || bytes.Equal(sha256, EmptySHA256[:])
}

// dropEmptyDigests nulls the digests of u when either is the digest of
// empty input, and marks u damaged.
func dropEmptyDigests(u *Update) {
	if IsEmptyDigest(u.SHA1, u.SHA256) {
		u.SHA1, u.SHA256, u.Damaged = nil, nil, true
	}
}
