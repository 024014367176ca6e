package ctrow

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
)

// The digests of empty input. No certificate has them: a feed that sends
// them sent a row without its certificate (certstream-server-go 1.9 does so
// for every precertificate of a static-CT log).
var (
	emptySHA1   = sha1.Sum(nil)
	emptySHA256 = sha256.Sum256(nil)
)

// IsEmptyDigest reports whether sha1 or sha256 is the digest of empty input.
// Such a row is damaged: its digests should be stored as null and the row
// counted as damaged. Either argument may be nil (not sent).
func IsEmptyDigest(sha1, sha256 []byte) bool {
	return bytes.Equal(sha1, emptySHA1[:]) || bytes.Equal(sha256, emptySHA256[:])
}
