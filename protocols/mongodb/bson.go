package mongodb

import (
	"bytes"
	"encoding/binary"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// Names of legacy operations; never modified.
var (
	nameFind        = []byte("find")
	nameInsert      = []byte("insert")
	nameUpdate      = []byte("update")
	nameDelete      = []byte("delete")
	nameGetMore     = []byte("getMore")
	nameKillCursors = []byte("killCursors")
)

// strBytes returns the bytes of a BSON string value, in place.
func strBytes(v bsoncore.Value) ([]byte, bool) {
	if v.Type != bsoncore.TypeString || len(v.Data) < 5 {
		return nil, false
	}
	n := int(int32(binary.LittleEndian.Uint32(v.Data)))
	if n < 1 || 4+n > len(v.Data) {
		return nil, false
	}
	return v.Data[4 : 4+n-1], true
}

// command is what a message says, as sub-slices of its bytes.
type command struct {
	name, coll, db, comment []byte
	commentDoc              []byte // a comment given as a document
	auth                    bool   // an authentication command: nothing else is read
	failed                  bool
	code                    int64
	hasCode                 bool
	codeName                []byte
}

// authCommands are the commands whose documents carry credentials.
var authCommands = [...]string{"saslstart", "saslcontinue", "authenticate", "getnonce", "copydbsaslstart", "copydbgetnonce"}

// collectionCommands are the commands whose first value names a
// collection.
var collectionCommands = [...]string{
	"find", "insert", "update", "delete", "aggregate", "count", "distinct",
	"findAndModify", "findandmodify", "create", "drop", "createIndexes",
	"dropIndexes", "listIndexes", "collMod", "mapReduce", "mapreduce",
	"validate", "compact", "collStats", "renameCollection", "bulkWrite",
	"explain", "shardCollection", "reIndex", "geoNear", "group",
}

func isCollectionCommand(name []byte) bool {
	for _, c := range collectionCommands {
		if string(name) == c {
			return true
		}
	}
	return false
}

func isAuthCommand(name []byte) bool {
	for _, c := range authCommands {
		if len(name) == len(c) && bytes.EqualFold(name, []byte(c)) {
			return true
		}
	}
	return false
}

// elements calls f for each whole element of the BSON document at the
// start of b, stopping at the first that is cut or malformed, or when f
// returns false. It reads in place: a document cut short (a message
// decoded from its prefix) still gives its leading elements.
func elements(b []byte, f func(key []byte, v bsoncore.Value) bool) {
	if len(b) < 5 {
		return
	}
	n := int(int32(binary.LittleEndian.Uint32(b)))
	if n < 5 {
		return
	}
	rest := b[4:min(len(b), n-1)]
	for len(rest) > 0 {
		e, r, ok := bsoncore.ReadElement(rest)
		if !ok {
			return
		}
		key, err := e.KeyBytesErr()
		if err != nil {
			return
		}
		v, err := e.ValueErr()
		if err != nil {
			return
		}
		if !f(key, v) {
			return
		}
		rest = r
	}
}

// document returns the document at the start of b when it is whole.
func document(b []byte) (bsoncore.Document, bool) {
	if len(b) < 5 {
		return nil, false
	}
	n := int(int32(binary.LittleEndian.Uint32(b)))
	if n < 5 || n > len(b) {
		return nil, false
	}
	return bsoncore.Document(b[:n]), true
}

// fromMsg reads an OP_MSG's sections (after the flags): the body document
// (kind 0) gives the command or the reply; kind 1 sections are skipped.
func (c *command) fromMsg(b []byte) {
	for len(b) > 0 {
		kind := b[0]
		b = b[1:]
		switch kind {
		case 0:
			c.fromDoc(b)
			return
		case 1:
			if len(b) < 4 {
				return
			}
			n := int(int32(binary.LittleEndian.Uint32(b)))
			if n < 4 || n > len(b) {
				return
			}
			b = b[n:]
		default:
			return
		}
	}
}

// fromDoc reads a command or reply document.
func (c *command) fromDoc(b []byte) {
	first := true
	elements(b, func(key []byte, v bsoncore.Value) bool {
		if first {
			first = false
			if (string(key) == "$query" || string(key) == "query") && v.Type == bsoncore.TypeEmbeddedDocument {
				c.fromDoc(v.Data)
				return false
			}
			c.name = key
			c.auth = isAuthCommand(key)
			if c.auth {
				return true // only $db below
			}
			if s, ok := strBytes(v); ok && isCollectionCommand(key) {
				c.coll = s
			}
			if string(key) == "ok" {
				c.ok(v)
			}
			return true
		}
		switch string(key) {
		case "$db":
			if s, ok := strBytes(v); ok {
				c.db = s
			}
		case "speculativeAuthenticate":
			c.auth = true
		}
		if c.auth {
			return true
		}
		switch string(key) {
		case "collection":
			if s, ok := strBytes(v); ok && string(c.name) == "getMore" {
				c.coll = s
			}
		case "comment":
			if s, ok := strBytes(v); ok && len(s) <= maxComment {
				c.comment = s
			} else if v.Type == bsoncore.TypeEmbeddedDocument && len(v.Data) <= maxComment {
				c.commentDoc = v.Data
			}
		case "ok":
			c.ok(v)
		case "code":
			if n, ok := number(v); ok {
				c.code, c.hasCode = n, true
			}
		case "codeName":
			if s, ok := strBytes(v); ok {
				c.codeName = s
			}
		case "$err":
			c.failed = true
		case "writeErrors":
			c.writeErrors(v)
		}
		return true
	})
}

// ok records a reply's ok field.
func (c *command) ok(v bsoncore.Value) {
	if n, ok := number(v); ok && n == 0 {
		c.failed = true
	} else if b, ok := v.BooleanOK(); ok && !b {
		c.failed = true
	}
}

// writeErrors records the first write error of a reply.
func (c *command) writeErrors(v bsoncore.Value) {
	arr, ok := v.ArrayOK()
	if !ok {
		return
	}
	first := true
	elements(arr, func(_ []byte, e bsoncore.Value) bool {
		if !first {
			return false
		}
		first = false
		c.failed = true
		if e.Type != bsoncore.TypeEmbeddedDocument {
			return false
		}
		elements(e.Data, func(key []byte, w bsoncore.Value) bool {
			switch string(key) {
			case "code":
				if n, ok := number(w); ok && !c.hasCode {
					c.code, c.hasCode = n, true
				}
			case "codeName":
				if s, ok := strBytes(w); ok && len(c.codeName) == 0 {
					c.codeName = s
				}
			}
			return true
		})
		return false
	})
}

// number returns a numeric value as an integer.
func number(v bsoncore.Value) (int64, bool) {
	switch v.Type {
	case bsoncore.TypeInt32:
		n, ok := v.Int32OK()
		return int64(n), ok
	case bsoncore.TypeInt64:
		return v.Int64OK()
	case bsoncore.TypeDouble:
		f, ok := v.DoubleOK()
		if !ok || f != f || f > 1<<62 || f < -(1<<62) {
			return 0, false
		}
		return int64(f), true
	}
	return 0, false
}

// fromQuery reads an OP_QUERY: a command on "<db>.$cmd", or a legacy find.
func (c *command) fromQuery(fullName, query []byte) {
	db, coll := splitNS(fullName)
	if string(coll) == "$cmd" {
		c.fromDoc(query)
		if len(c.db) == 0 {
			c.db = db
		}
		return
	}
	c.name = nameFind
	c.coll, c.db = coll, db
	if c.auth {
		return
	}
	elements(query, func(key []byte, v bsoncore.Value) bool {
		if string(key) == "$comment" || string(key) == "comment" {
			if s, ok := strBytes(v); ok && len(s) <= maxComment {
				c.comment = s
			}
		}
		return true
	})
}

// ns records a full collection name's database and collection.
func (c *command) ns(fullName []byte) {
	c.db, c.coll = splitNS(fullName)
}

// fromReply reads an OP_REPLY's flags and first document.
func (c *command) fromReply(flags uint32, docs []byte) {
	if flags&2 != 0 { // QueryFailure
		c.failed = true
	}
	if _, ok := document(docs); ok || len(docs) > 0 {
		c.fromDocReply(docs)
	}
}

// fromDocReply reads a reply document: every key is a field, none a
// command name.
func (c *command) fromDocReply(b []byte) {
	c.name = nil // not a command: the first key is a field
	elements(b, func(key []byte, v bsoncore.Value) bool {
		switch string(key) {
		case "ok":
			c.ok(v)
		case "code":
			if n, ok := number(v); ok {
				c.code, c.hasCode = n, true
			}
		case "codeName":
			if s, ok := strBytes(v); ok {
				c.codeName = s
			}
		case "$err":
			c.failed = true
		case "writeErrors":
			c.writeErrors(v)
		}
		return true
	})
}

// legacy reads the full collection name of a legacy write or getMore.
func (c *command) legacy(op int32, body []byte) {
	switch op {
	case opInsert:
		c.name = nameInsert
	case opUpdate:
		c.name = nameUpdate
	case opDelete:
		c.name = nameDelete
	case opGetMore:
		c.name = nameGetMore
	case opKillCursors:
		c.name = nameKillCursors
		return
	}
	if len(body) < 4 {
		return
	}
	if name, _, ok := cstring(body[4:]); ok {
		c.ns(name)
	}
}

// cstring splits a NUL-terminated string from b.
func cstring(b []byte) (s, rest []byte, ok bool) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return b, nil, false
	}
	return b[:i], b[i+1:], true
}

// splitNS splits "db.collection" at its first dot.
func splitNS(ns []byte) (db, coll []byte) {
	i := bytes.IndexByte(ns, '.')
	if i < 0 {
		return ns, nil
	}
	return ns[:i], ns[i+1:]
}
