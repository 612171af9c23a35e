package mqtt

import "github.com/wiretrace/wiretrace/protocols"

// Limits on hand-off links.
const (
	// MaxLinkName bounds the topic in a link value. A longer topic
	// becomes its first MaxLinkName-17 bytes, "~" and the 16-hex-digit
	// FNV-1a 64 digest of the whole topic.
	MaxLinkName = 256
	// MaxDigestLen bounds the payload bytes that are hashed; a longer
	// payload's digest goes on over its length.
	MaxDigestLen = protocols.MaxDigestLen
)

// Link value kinds.
const (
	kindMsg   = "mqtt"
	kindReply = "mqtt-reply"
)

// link returns the link "<kind>:<name>:<id>" under key; the id is id or,
// when id is empty, the hex digest dig.
func link(key, kind string, name []byte, id string, dig uint64) protocols.Attr {
	return protocols.HandoffLink(key, kind, name, MaxLinkName, id, dig)
}
