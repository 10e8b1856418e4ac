package sync

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"unicode/utf8"
)

// listReader reads the two big answers, the card list and the account's
// lines, straight from the body: a million lines are some 280 MB of JSON,
// and decoding them item by item through encoding/json's Decoder (which
// scans each item twice, then fills a struct by reflection) was a third of
// a 1M-row plan's CPU. It reads JSON as encoding/json does for the fields
// bulksync uses (a string, a bool, null; keys matched without regard to
// case, the last of a repeated key winning; escapes and invalid UTF-8 as
// json.Unmarshal reads them, null leaving a field as it was), and checks
// the syntax of everything it skips.
type listReader struct {
	r     io.Reader
	buf   []byte // buf[pos:] is read from r and not yet taken
	pos   int
	base  int64  // the offset in the body of buf[0], for errors
	rerr  error  // r's error once it returned one: the body ends at buf's end
	str   []byte // the last string read; valid until the next read
	key   []byte // the key of the member being read (object)
	depth int
}

// maxListDepth bounds the nesting of skipped values, as encoding/json's
// own limit does, so that a hostile body cannot exhaust the stack.
const maxListDepth = 10000

// listBufSize is the reader's buffer: it grows only for a string longer
// than this, which must be held whole.
const listBufSize = 256 << 10

func newListReader(r io.Reader) *listReader {
	return &listReader{r: r, buf: make([]byte, 0, listBufSize)}
}

func (lr *listReader) errorf(format string, args ...any) error {
	return fmt.Errorf("offset %d: %s", lr.base+int64(lr.pos), fmt.Sprintf(format, args...))
}

// fill reads more of the body into buf, keeping buf[keep:] (keep <= pos)
// and what follows: the bytes before keep may move or be overwritten. It
// returns how far buf[keep:] moved towards the start, and false with the
// error (io.ErrUnexpectedEOF for the body's end) when nothing more comes.
func (lr *listReader) fill(keep int) (shift int, err error) {
	for empty := 0; ; {
		if lr.rerr != nil {
			if lr.rerr == io.EOF {
				return shift, io.ErrUnexpectedEOF
			}
			return shift, lr.rerr
		}
		if len(lr.buf) == cap(lr.buf) {
			if keep > 0 {
				n := copy(lr.buf, lr.buf[keep:])
				lr.buf = lr.buf[:n]
				lr.pos -= keep
				lr.base += int64(keep)
				shift += keep
				keep = 0
			} else {
				lr.buf = slices.Grow(lr.buf, cap(lr.buf))
			}
		}
		n, err := lr.r.Read(lr.buf[len(lr.buf):cap(lr.buf)])
		lr.buf = lr.buf[:len(lr.buf)+n]
		if err != nil {
			lr.rerr = err
		}
		if n > 0 {
			return shift, nil
		}
		if empty++; empty == 100 {
			lr.rerr = io.ErrNoProgress // as bufio gives up on a reader
		}
	}
}

// byte returns the next byte; a body that ends there is cut short.
func (lr *listReader) byte() (byte, error) {
	if lr.pos == len(lr.buf) {
		if _, err := lr.fill(lr.pos); err != nil {
			return 0, err
		}
	}
	c := lr.buf[lr.pos]
	lr.pos++
	return c, nil
}

// peek skips white space and returns the next byte without reading it.
func (lr *listReader) peek() (byte, error) {
	for {
		for lr.pos < len(lr.buf) {
			switch c := lr.buf[lr.pos]; c {
			case ' ', '\t', '\n', '\r':
				lr.pos++
			default:
				return c, nil
			}
		}
		if _, err := lr.fill(lr.pos); err != nil {
			return 0, err
		}
	}
}

// next skips white space and reads the next byte.
func (lr *listReader) next() (byte, error) {
	c, err := lr.peek()
	if err == nil {
		lr.pos++
	}
	return c, err
}

func (lr *listReader) expect(want byte) error {
	c, err := lr.next()
	if err != nil {
		return err
	}
	if c != want {
		return lr.errorf("found %q where %q belongs", c, want)
	}
	return nil
}

// null reads a null if one comes next, and reports whether it did.
func (lr *listReader) null() (bool, error) {
	c, err := lr.peek()
	if err != nil || c != 'n' {
		return false, err
	}
	return true, lr.literal("null")
}

func (lr *listReader) literal(word string) error {
	for i := range len(word) {
		c, err := lr.byte()
		if err != nil {
			return err
		}
		if c != word[i] {
			return lr.errorf("invalid literal, want %s", word)
		}
	}
	return nil
}

// string reads a string into lr.str. A plain string (no escape, valid
// UTF-8: nearly all) is taken as it is, from the buffer; any other is
// decoded by encoding/json itself, so that escapes and invalid bytes read
// the same.
func (lr *listReader) string() error {
	if err := lr.expect('"'); err != nil {
		return err
	}
	return lr.stringBody()
}

// stringBody is string after the opening quote.
func (lr *listReader) stringBody() error {
	// Nearly every string of a list is plain and ends in the buffer: one
	// scan finds its end and checks it. Any other is read below.
	if n := plainPrefix(lr.buf[lr.pos:]); lr.pos+n < len(lr.buf) && lr.buf[lr.pos+n] == '"' {
		lr.str = lr.buf[lr.pos : lr.pos+n]
		lr.pos += n + 1
		return nil
	}
	// buf[open] is the opening quote, kept with the string for
	// json.Unmarshal.
	open, from := lr.pos-1, lr.pos
	end := -1
	for end < 0 {
		i := bytes.IndexByte(lr.buf[from:], '"')
		if i < 0 {
			from = len(lr.buf)
			shift, err := lr.fill(open)
			if err != nil {
				return err
			}
			open, from = open-shift, from-shift
			continue
		}
		// The quote ends the string unless an odd number of backslashes
		// precede it.
		q, n := from+i, 0
		for j := q - 1; j > open && lr.buf[j] == '\\'; j-- {
			n++
		}
		if n%2 == 0 {
			end = q
		} else {
			from = q + 1
		}
	}
	body := lr.buf[open+1 : end]
	lr.pos = end + 1
	escaped, high := false, false
	for _, c := range body {
		switch {
		case c < 0x20:
			return lr.errorf("control character in a string")
		case c == '\\':
			escaped = true
		case c >= utf8.RuneSelf:
			high = true
		}
	}
	if !escaped && (!high || utf8.Valid(body)) {
		lr.str = body
		return nil
	}
	var s string
	quoted := lr.buf[open : end+1]
	if err := json.Unmarshal(quoted, &s); err != nil {
		return lr.errorf("invalid string: %v", err)
	}
	lr.str = append(lr.str[:0:0], s...)
	return nil
}

// stringInto reads a string into *dst; null leaves *dst as it was, as
// encoding/json fills a string field.
func (lr *listReader) stringInto(dst *string, field string) error {
	ok, err := lr.nullableString(field)
	if ok {
		*dst = string(lr.str)
	}
	return err
}

// bytesInto reads a string into *dst, reusing its memory; null leaves
// *dst as it was.
func (lr *listReader) bytesInto(dst *[]byte, field string) error {
	ok, err := lr.nullableString(field)
	if ok {
		*dst = append((*dst)[:0], lr.str...)
	}
	return err
}

// nullableString reads a string into lr.str, or null: ok says which.
func (lr *listReader) nullableString(field string) (ok bool, err error) {
	c, err := lr.peek()
	switch {
	case err != nil:
		return false, err
	case c == 'n':
		return false, lr.literal("null")
	case c != '"':
		return false, lr.errorf("%s: want a string", field)
	}
	lr.pos++
	if err := lr.stringBody(); err != nil {
		return false, err
	}
	return true, nil
}

// boolInto reads true or false into *dst; null leaves it as it was.
func (lr *listReader) boolInto(dst *bool, field string) error {
	c, err := lr.peek()
	if err != nil {
		return err
	}
	switch c {
	case 'n':
		return lr.literal("null")
	case 't':
		*dst = true
		return lr.literal("true")
	case 'f':
		*dst = false
		return lr.literal("false")
	}
	return lr.errorf("%s: want true or false", field)
}

// object reads an object, calling member for each key (in lr.str), which
// must read the value. A null reads as an empty object, as encoding/json
// reads null into a struct.
func (lr *listReader) object(member func(key []byte) error) error {
	if null, err := lr.null(); null || err != nil {
		return err
	}
	if err := lr.expect('{'); err != nil {
		return err
	}
	if c, err := lr.peek(); err != nil {
		return err
	} else if c == '}' {
		lr.pos++
		return nil
	}
	for {
		if err := lr.string(); err != nil {
			return err
		}
		// The key is kept apart: the buffer lr.str points into may move
		// while the colon is read.
		lr.key = append(lr.key[:0], lr.str...)
		if err := lr.expect(':'); err != nil {
			return err
		}
		if err := member(lr.key); err != nil {
			return err
		}
		c, err := lr.next()
		if err != nil {
			return err
		}
		switch c {
		case ',':
		case '}':
			return nil
		default:
			return lr.errorf("found %q after an object member", c)
		}
	}
}

// array reads an array, calling item for each element, which must read it.
func (lr *listReader) array(item func() error) error {
	if err := lr.expect('['); err != nil {
		return err
	}
	if c, err := lr.peek(); err != nil {
		return err
	} else if c == ']' {
		lr.pos++
		return nil
	}
	for {
		if err := item(); err != nil {
			return err
		}
		c, err := lr.next()
		if err != nil {
			return err
		}
		switch c {
		case ',':
		case ']':
			return nil
		default:
			return lr.errorf("found %q after an array element", c)
		}
	}
}

// skip reads a value of any kind and drops it.
func (lr *listReader) skip() error {
	c, err := lr.peek()
	if err != nil {
		return err
	}
	switch {
	case c == '"':
		return lr.string()
	case c == '{' || c == '[':
		if lr.depth++; lr.depth > maxListDepth {
			return lr.errorf("exceeded max depth")
		}
		defer func() { lr.depth-- }()
		if c == '{' {
			return lr.object(func([]byte) error { return lr.skip() })
		}
		return lr.array(lr.skip)
	case c == 't':
		return lr.literal("true")
	case c == 'f':
		return lr.literal("false")
	case c == 'n':
		return lr.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		return lr.number()
	}
	return lr.errorf("invalid character %q looking for a value", c)
}

// number reads a number and checks it against JSON's grammar:
// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (lr *listReader) number() error {
	start := lr.pos
	for {
		for lr.pos < len(lr.buf) {
			c := lr.buf[lr.pos]
			if !('0' <= c && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E') {
				return lr.checkNumber(lr.buf[start:lr.pos])
			}
			lr.pos++
		}
		shift, err := lr.fill(start)
		if err == io.ErrUnexpectedEOF {
			return lr.checkNumber(lr.buf[start-shift : lr.pos])
		}
		if err != nil {
			return err
		}
		start -= shift
	}
}

func (lr *listReader) checkNumber(n []byte) error {
	if !validNumber(n) {
		return lr.errorf("invalid number %q", n)
	}
	return nil
}

func validNumber(n []byte) bool {
	digits := func() int { // reads digits, returns how many
		i := 0
		for i < len(n) && '0' <= n[i] && n[i] <= '9' {
			i++
		}
		n = n[i:]
		return i
	}
	if len(n) > 0 && n[0] == '-' {
		n = n[1:]
	}
	switch {
	case len(n) > 0 && n[0] == '0':
		n = n[1:]
	case digits() == 0:
		return false
	}
	if len(n) > 0 && n[0] == '.' {
		n = n[1:]
		if digits() == 0 {
			return false
		}
	}
	if len(n) > 0 && (n[0] == 'e' || n[0] == 'E') {
		n = n[1:]
		if len(n) > 0 && (n[0] == '+' || n[0] == '-') {
			n = n[1:]
		}
		if digits() == 0 {
			return false
		}
	}
	return len(n) == 0
}

// keyIs matches a key as encoding/json matches a field name: exactly, or
// else without regard to case.
func keyIs(key []byte, name string) bool {
	return string(key) == name || bytes.EqualFold(key, []byte(name))
}

// readTopList reads {..., "name": [item, ...], ...}, calling start before
// the list's first item (again if the key is repeated: the last list
// wins, as it would in encoding/json) and item for each element. A list
// that is null is no list. Anything after the object is not read.
func readTopList(r io.Reader, name string, start func(), item func(lr *listReader) error) (found bool, err error) {
	lr := newListReader(r)
	err = lr.object(func(key []byte) error {
		if string(key) != name { // exactly: the list's own key is not a struct field
			return lr.skip()
		}
		if null, err := lr.null(); null || err != nil {
			return err
		}
		found = true
		start()
		return lr.array(func() error { return item(lr) })
	})
	return found, err
}

// plainPrefix returns how many bytes b starts with that a JSON string holds
// as they are: none is a quote, a backslash, a control character or
// outside ASCII. It reads eight bytes at a time.
func plainPrefix(b []byte) int {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		if m := notPlain(binary.LittleEndian.Uint64(b[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' {
			return i
		}
	}
	return i
}

// notPlain sets the high bit of the bytes of x (eight bytes, the first
// lowest) that plainPrefix stops at. A byte above one it stops at may be
// marked too (a borrow), but the lowest marked byte is always one: each
// test marks only such bytes and the bytes above them.
func notPlain(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote, backslash := x^(ones*'"'), x^(ones*'\\')
	control := (x - ones*0x20) &^ x       // bytes below 0x20
	q := (quote - ones) &^ quote          // bytes equal to '"'
	bs := (backslash - ones) &^ backslash // bytes equal to '\\'
	return (control | q | bs | x) & highs // x: bytes from 0x80
}
