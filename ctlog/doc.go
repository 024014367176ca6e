// Package ctlog reads entries from Certificate Transparency logs through
// their public read APIs, RFC 6962 (get-sth, get-entries) and static-CT
// (c2sp.org/static-ct-api: checkpoint, tiles, issuers), and finds logs in
// a Chrome v3 log list. It knows nothing of CertStream, Arrow or files: it
// hands back raw entries, verified as far as the protocol allows.
//
// The pipeline of one Client:
//
//	Head:    GET get-sth | checkpoint --> signature checked against Log.Key --> Tree
//	Entries: Tree, [start,end)
//	  RFC 6962:  get-entries?start&end --(short pages: ask again from where the answer stopped)
//	             --> leaf hashes + audit path of the page's last leaf (get-proof-by-hash; and of its
//	                 first leaf when the walk does not start at 0) checked against Tree.RootHash
//	             --> parse --> fn
//	  static-CT: tile/data/N[.p/W] --(prefetched, MaxInFlight at a time)--> gunzip --> parse TileLeafs
//	             --> leaf hashes checked against tile/1/.. hash tiles, themselves checked against Tree.RootHash
//	             --> issuers by fingerprint (sha256 checked, cached) --> fn, in index order
//
// Every request of a Client goes through one fetcher: a per-log token
// bucket (Options.RequestsPerSecond) and in-flight cap (Options.MaxInFlight),
// retries of 429, 5xx and network errors with capped exponential backoff
// plus jitter, Retry-After honoured and applied to the whole log, a
// User-Agent naming the program, and a byte cap on every response body
// (compressed and decompressed).
//
// # What is verified
//
//   - A get-sth STH or a checkpoint whose signature does not check against
//     the key from the log list is refused (ErrVerification). There is no
//     way to pass an unverified Tree to Entries: a Tree is only made by
//     Head, and Entries refuses one that another log's Client made.
//   - Static-CT: every entry handed back is proven to be in the signed
//     tree. A data tile's leaf hashes are combined into its subtree hash
//     and compared with the hash tiles, which tlog checks up to the signed
//     root; a tile that does not match is refused and counted, and nothing
//     from it is handed back. Each leaf's leaf_index extension must equal
//     its position. Issuer certificates must hash to the fingerprint they
//     were asked for.
//   - RFC 6962: every entry handed back is proven to be in the signed
//     tree, at its index. Each get-entries page is tied to the STH's root
//     by a range proof (see pageRange in verify.go): the leaf hashes of
//     the page, the hashes of [0, start) already verified, and the
//     audit path of the page's last leaf must lead to the root. That
//     costs one get-proof-by-hash per page, one more for the first page
//     when a walk does not start at 0, none for a page that ends the
//     tree. A page with a changed, reordered, missing or foreign entry,
//     or an audit path that does not lead to the root, is refused and
//     counted, and nothing from it is handed back; earlier pages were.
//     A leaf logged twice is proven by index (get-entry-and-proof).
//     Entries must also parse, be of a known type, and not exceed the
//     range asked for.
//   - Not covered by the Merkle tree, so not verified: an entry's chain
//     (RFC 6962 extra_data; which issuers a static-CT leaf names, though
//     each must hash to its fingerprint), and for a precertificate entry
//     the pre-certificate itself (LeafDER), of which the tree only holds
//     the TBS (Entry.TBS) and the issuer key hash.
//     Successive tree heads are not checked for consistency with each
//     other: each Tree is trusted on its signature alone.
//   - Certificates themselves are never parsed or validated here.
//
// # Entry contract
//
// An Entry carries its log index, the entry's own timestamp (milliseconds,
// the TimestampedEntry's), its type, and the certificate bytes a CertStream
// server would describe: for an X.509 entry the certificate, for a
// precertificate entry the pre-certificate as submitted (with its poison
// extension and signature, from extra_data or the TileLeaf), which is what
// CertStream servers hash and serve. Chain holds the issuer chain, issuer
// of the leaf first. For precertificates TBS and IssuerKeyHash hold what
// the Merkle leaf holds. LeafInput is the RFC 6962 MerkleTreeLeaf (for
// static-CT logs, rebuilt with the leaf_index extension, i.e. the bytes
// hashed into the tree); ExtraData is the RFC 6962 extra_data, nil for
// static-CT logs. The package never overwrites an Entry's slices: a
// receiver may keep them, but must not modify them (issuer certificates
// are shared between entries).
//
// # Concurrency
//
// A Client is safe for concurrent use; its limits are shared by all calls.
// Entries calls fn from the calling goroutine, one entry at a time, in
// index order; an error returned by fn stops the walk and is returned
// as is. A List is immutable once loaded.
package ctlog
