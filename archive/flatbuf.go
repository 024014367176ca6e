package archive

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// errVectorLength reports a flatbuffer vector declaring more elements than
// its buffer holds: arrow-go makes a slice of the declared length before it
// looks at the elements (a schema's fields, a field's children), so a
// damaged 4-byte length would otherwise ask the runtime for gigabytes.
var errVectorLength = errors.New("metadata vector longer than its message")

// fb is a flatbuffer table at pos of b; every read checks its bounds and
// reports a bad offset as ok == false.
type fb struct {
	b   []byte
	pos int
}

func (t fb) u32(at int) (int, bool) {
	if at < 0 || at+4 > len(t.b) {
		return 0, false
	}
	return int(binary.LittleEndian.Uint32(t.b[at:])), true
}

// field returns the position of field i of t, 0 if absent.
func (t fb) field(i int) (int, bool) {
	soff, ok := t.u32(t.pos)
	vt := t.pos - int(int32(uint32(soff)))
	if !ok || vt < 0 || vt+4 > len(t.b) {
		return 0, false
	}
	slot := 4 + 2*i
	if slot+2 > int(binary.LittleEndian.Uint16(t.b[vt:])) || vt+slot+2 > len(t.b) {
		return 0, true
	}
	off := int(binary.LittleEndian.Uint16(t.b[vt+slot:]))
	if off == 0 {
		return 0, true
	}
	return t.pos + off, t.pos+off < len(t.b)
}

// ref follows the offset at at to the table or vector it points to.
func (t fb) ref(at int) (int, bool) {
	off, ok := t.u32(at)
	return at + off, ok && at+off < len(t.b)
}

// tables returns the tables of vector field i of t, checking
// that its declared length fits in the buffer.
func (t fb) tables(i int) ([]fb, error) {
	at, ok := t.field(i)
	if !ok {
		return nil, errVectorLength
	}
	if at == 0 {
		return nil, nil
	}
	v, ok := t.ref(at)
	n, ok2 := t.u32(v)
	if !ok || !ok2 || n > (len(t.b)-v-4)/4 {
		return nil, errVectorLength
	}
	out := make([]fb, n)
	for k := range out {
		p, ok := t.ref(v + 4 + 4*k)
		if !ok {
			return nil, errVectorLength
		}
		out[k] = fb{t.b, p}
	}
	return out, nil
}

// checkSchemaVectors checks the vectors arrow-go sizes slices by in a
// Schema table: its fields and custom metadata, and each field's children
// and custom metadata, to the nesting depth arrow-go allows.
func checkSchemaVectors(schema fb) error {
	fields, err := schema.tables(1)
	if err != nil {
		return err
	}
	if _, err := schema.tables(2); err != nil {
		return err
	}
	return checkFields(fields, 64)
}

func checkFields(fields []fb, depth int) error {
	if depth == 0 && len(fields) > 0 {
		return errVectorLength
	}
	for _, f := range fields {
		children, err := f.tables(5)
		if err != nil {
			return err
		}
		if _, err := f.tables(6); err != nil {
			return err
		}
		if err := checkFields(children, depth-1); err != nil {
			return err
		}
	}
	return nil
}

// checkMessageVectors checks a stream message's metadata: its custom
// metadata and, for a schema message, checkSchemaVectors.
func checkMessageVectors(meta []byte) error {
	root, ok := fb{b: meta}.u32(0)
	if !ok {
		return errVectorLength
	}
	msg := fb{meta, root}
	if _, err := msg.tables(4); err != nil {
		return err
	}
	typ, ok := msg.field(1)
	if !ok || typ == 0 || meta[typ] != 1 { // header_type 1: Schema
		return nil
	}
	at, ok := msg.field(2)
	if !ok || at == 0 {
		return errVectorLength
	}
	p, ok := msg.ref(at)
	if !ok {
		return errVectorLength
	}
	return checkSchemaVectors(fb{meta, p})
}

// checkFooter checks the schema in the footer of the IPC file f of size
// bytes (checkSchemaVectors). A footer too damaged to find the schema in is
// left for arrow-go's reader to refuse.
func checkFooter(f io.ReaderAt, size int64) error {
	var tail [10]byte // footer length, then "ARROW1"
	if size < 18 {
		return nil
	}
	if _, err := f.ReadAt(tail[:], size-10); err != nil {
		return err
	}
	n := int64(int32(binary.LittleEndian.Uint32(tail[:])))
	if n <= 0 || n > size-18 {
		return nil
	}
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, size-10-n); err != nil {
		return err
	}
	root, ok := fb{b: buf}.u32(0)
	footer := fb{buf, root}
	at, ok2 := footer.field(1)
	if !ok || !ok2 || at == 0 {
		return nil
	}
	p, ok := footer.ref(at)
	if !ok {
		return nil
	}
	if err := checkSchemaVectors(fb{buf, p}); err != nil {
		return fmt.Errorf("footer schema: %w: %w", err, ErrDeclaredSize)
	}
	return nil
}
