package ctlogtest

import (
	"slices"

	ct "github.com/google/certificate-transparency-go"
)

// Tamper is a way for the fake RFC 6962 log to lie about its tree while
// signing honest tree heads: what a client must refuse.
type Tamper int

const (
	TamperNone    Tamper = iota
	TamperLeaf           // a byte of entry TamperAt's certificate flipped (still parses)
	TamperSwap           // entries TamperAt and TamperAt+1 answered in each other's place
	TamperDrop           // entry TamperAt left out of the page; those after it move up
	TamperForeign        // entry TamperAt replaced by a valid leaf that is not in this tree
	TamperProof          // every hash of every audit path altered (pages stay honest)
)

// tamperPage applies f.Tamper to a get-entries answer starting at start,
// when the answer holds entry f.TamperAt.
func (l *Log) tamperPage(f Faults, start int64, page []ct.LeafEntry) []ct.LeafEntry {
	i := f.TamperAt - start
	if i < 0 || i >= int64(len(page)) {
		return page
	}
	switch f.Tamper {
	case TamperLeaf:
		leaf := slices.Clone(page[i].LeafInput)
		leaf[len(leaf)-10] ^= 0x01 // inside the certificate or TBS, before the 2-byte extensions
		page[i].LeafInput = leaf
	case TamperSwap:
		if i+1 < int64(len(page)) {
			page[i], page[i+1] = page[i+1], page[i]
		}
	case TamperDrop:
		page = slices.Delete(page, int(i), int(i)+1)
	case TamperForeign:
		e := l.entries[f.TamperAt]
		e.Timestamp++
		e.LeafInput = nil
		page[i].LeafInput = merkleLeaf(e, 0, false)
	}
	return page
}
