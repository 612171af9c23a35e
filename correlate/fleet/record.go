package fleet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/bits"
	"strconv"

	"github.com/wiretrace/wiretrace/correlate"
)

// Version is the span record format version this package writes. Decode
// accepts records of this version and rejects others (ErrVersion); fields
// it does not know are ignored, so a newer agent may add fields.
const Version = 1

// MaxPartitions bounds Config.Partitions (a partition set is a uint64).
const MaxPartitions = 64

// maxRecordSize bounds an encoded record; larger ones are malformed.
const maxRecordSize = 1 << 20

// Sentinel errors of Decode.
var (
	// ErrMalformed is a record that is not a span record (not JSON, no
	// span, a field of the wrong type, too large).
	ErrMalformed = errors.New("malformed span record")
	// ErrVersion is a span record of another format version.
	ErrVersion = errors.New("unsupported span record version")
)

// Record is one span as an agent publishes it: the span in the span
// format (docs/span-format.md, with its local linking undone by the
// assembler), the linker state that travels with it, and its join keys.
//
// Encoded as one JSON object:
//
//	{"v":1,"agent":"web-1","keys":["x:…","q:…"],"span":{…span format…},"state":{"done_ns":…}}
type Record struct {
	// V is the format version (Version).
	V int `json:"v"`
	// Agent names the agent that published it (--agent).
	Agent string `json:"agent,omitempty"`
	// Keys are the join keys: records that share one may belong to one
	// trace (see the package doc). They decide the partitions.
	Keys []string `json:"keys"`
	// Span is the span.
	Span *correlate.Span `json:"span"`
	// State is the linker state of the span.
	State correlate.SpanState `json:"state"`
}

// Encode appends the JSON encoding of r, with V set to Version, to dst.
func Encode(dst []byte, r *Record) ([]byte, error) {
	r.V = Version
	b, err := json.Marshal(r)
	if err != nil {
		return dst, fmt.Errorf("fleet: encode span %s: %w", spanID(r), err)
	}
	return append(dst, b...), nil
}

func spanID(r *Record) string {
	if r.Span == nil {
		return "(none)"
	}
	return r.Span.SpanID
}

// Decode parses one record. Attribute values are int64 when integral,
// else float64, as the span builder makes them. Errors wrap ErrMalformed
// or ErrVersion.
func Decode(b []byte) (*Record, error) {
	if len(b) > maxRecordSize {
		return nil, fmt.Errorf("fleet: record of %d bytes: %w", len(b), ErrMalformed)
	}
	var r Record
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&r); err != nil {
		return nil, fmt.Errorf("fleet: record: %w: %v", ErrMalformed, err)
	}
	if r.V != Version {
		return nil, fmt.Errorf("fleet: record version %d (want %d): %w", r.V, Version, ErrVersion)
	}
	s := r.Span
	if s == nil || len(s.SpanID) != 16 || !isHex(s.SpanID) {
		return nil, fmt.Errorf("fleet: record: %w: no span or bad span_id", ErrMalformed)
	}
	for k, v := range s.Attributes {
		n, ok := v.(json.Number)
		if !ok {
			if _, str := v.(string); !str {
				// Objects, arrays, booleans: not made by the builder.
				if _, b := v.(bool); !b {
					return nil, fmt.Errorf("fleet: span %s: attribute %q: %w: not a string or number", s.SpanID, k, ErrMalformed)
				}
			}
			continue
		}
		if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
			s.Attributes[k] = i
		} else if f, err := strconv.ParseFloat(string(n), 64); err == nil && !math.IsInf(f, 0) {
			s.Attributes[k] = f
		} else {
			return nil, fmt.Errorf("fleet: span %s: attribute %q: %w: bad number", s.SpanID, k, ErrMalformed)
		}
	}
	if len(r.Keys) > 1024 {
		return nil, fmt.Errorf("fleet: span %s: %d keys: %w", s.SpanID, len(r.Keys), ErrMalformed)
	}
	return &r, nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Partition returns the partition of a join key among n.
func Partition(key string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(key))
	return int(h.Sum64() % uint64(n))
}

// partSet is a set of partitions.
type partSet uint64

func (p partSet) has(i int) bool { return p&(1<<uint(i)) != 0 }
func (p partSet) min() int       { return bits.TrailingZeros64(uint64(p)) }

// each calls f for each partition in p, lowest first.
func (p partSet) each(f func(int)) {
	for p != 0 {
		i := bits.TrailingZeros64(uint64(p))
		f(i)
		p &^= 1 << uint(i)
	}
}

// partsOf returns the partitions of keys among n.
func partsOf(keys []string, n int) partSet {
	var p partSet
	for _, k := range keys {
		p |= 1 << uint(Partition(k, n))
	}
	return p
}
