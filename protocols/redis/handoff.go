package redis

import "github.com/wiretrace/wiretrace/protocols"

// Handoff links: the producer's and the consumer's messages of an entry,
// value or payload handed over through Redis carry the same value, so that
// correlate can tie them with no id on the wire. See the package
// documentation, "Queue hand-off".

// Limits on handoff links.
const (
	// MaxHandoffLinks bounds the handoff links of one message (a batch:
	// LPUSH of many values, XREAD of many entries). Later ones are dropped.
	MaxHandoffLinks = 64
	// MaxLinkName bounds the name (stream key, list key, channel) in a
	// link value. A longer name becomes its first MaxLinkName-17 bytes,
	// "~" and the 16-hex-digit FNV-1a 64 digest of the whole name, so
	// that names sharing a long prefix stay apart.
	MaxLinkName = 128
	// maxEntryID bounds a stream entry id ("<ms>-<seq>" is at most 41
	// bytes); a longer reply gives no link.
	maxEntryID = 64
	// MaxDigestLen bounds the bytes of a value that are hashed; see digest.
	MaxDigestLen = protocols.MaxDigestLen
	// keyCacheLen is the number of key strings remembered for the replies
	// of LPOP, XADD, LMOVE and the like, so that a consumer looping on one
	// key allocates nothing for it.
	keyCacheLen = 8
)

// Link value kinds.
const (
	kindStream = "redis-stream"
	kindList   = "redis-list"
	kindPubSub = "redis-pubsub"
)

// plan says which arguments of a command and which elements of its reply
// give handoff links.
type plan uint8

const (
	planNone    plan = iota
	planPush         // LPUSH/RPUSH/LPUSHX/RPUSHX key value...: Send per value
	planPublish      // PUBLISH/SPUBLISH channel message: Send
	planXAdd         // XADD key ...: the reply (the entry id) gives Send
	planXRead        // XREAD/XREADGROUP: each entry of the reply gives Recv
	planBPop         // BLPOP/BRPOP: the reply [key, value] gives Recv
	planMPop         // LMPOP/BLMPOP: the reply [key, [value...]] gives Recv
	planPop          // LPOP/RPOP key: the reply value(s) give Recv
	planMove         // LMOVE/BLMOVE/RPOPLPUSH/BRPOPLPUSH src dst: Recv on src, Send on dst
)

func planOf(cmd string) plan {
	switch cmd {
	case "LPUSH", "RPUSH", "LPUSHX", "RPUSHX":
		return planPush
	case "PUBLISH", "SPUBLISH":
		return planPublish
	case "XADD":
		return planXAdd
	case "XREAD", "XREADGROUP":
		return planXRead
	case "BLPOP", "BRPOP":
		return planBPop
	case "LMPOP", "BLMPOP":
		return planMPop
	case "LPOP", "RPOP":
		return planPop
	case "LMOVE", "BLMOVE", "RPOPLPUSH", "BRPOPLPUSH":
		return planMove
	}
	return planNone
}

// name is a key or channel being read: its first MaxLinkName bytes and the
// digest of all of them.
type name struct {
	b    [MaxLinkName]byte
	n    int
	full int64
	h    uint64
	ok   bool // complete and not cut by a gap
}

func (k *name) reset() { k.n, k.full, k.h, k.ok = 0, 0, protocols.FNVOffset, false }

func (k *name) add(b []byte) {
	k.n += copy(k.b[k.n:], b)
	k.full += int64(len(b))
	k.h = protocols.FNV(k.h, b)
}

// appendTo appends the name as a link shows it (see MaxLinkName).
func (k *name) appendTo(dst []byte) []byte {
	if k.full <= MaxLinkName {
		return append(dst, k.b[:k.n]...)
	}
	dst = append(dst, k.b[:MaxLinkName-17]...)
	dst = append(dst, '~')
	return protocols.AppendHex(dst, k.h)
}

// linkBufLen holds the longest link value: kind, name, id and colons.
const linkBufLen = len(kindStream) + 1 + MaxLinkName + 1 + maxEntryID

// appendLink appends the link "<kind>:<name>:<id>" under key to links,
// unless MaxHandoffLinks are there; the id is idb or, when idb is nil, the
// hex digest dig. It allocates the value string only.
func appendLink[T string | []byte](links []protocols.Attr, key, kind string, name T, idb []byte, dig uint64) []protocols.Attr {
	if len(links) >= MaxHandoffLinks {
		return links
	}
	var buf [linkBufLen]byte
	b := append(buf[:0], kind...)
	b = append(b, ':')
	b = append(b, name...)
	b = append(b, ':')
	if idb != nil {
		b = append(b, idb...)
	} else {
		b = protocols.AppendHex(b, dig)
	}
	return append(links, protocols.String(key, string(b)))
}

// ---- commands ----

// Argument roles in a command's plan.
const (
	roleNone  uint8 = iota
	roleKey1        // the key (list, stream, channel; LMOVE's source)
	roleKey2        // LMOVE's destination
	roleValue       // a value produced: digested, then a Send link
)

// roleOf returns what argument i of the command in progress gives.
func (q *reqHalf) roleOf(i int64) uint8 {
	switch q.plan {
	case planPush:
		switch {
		case i == 1:
			return roleKey1
		case i >= 2:
			return roleValue
		}
	case planPublish:
		switch i {
		case 1:
			return roleKey1
		case 2:
			return roleValue
		}
	case planXAdd, planPop:
		if i == 1 {
			return roleKey1
		}
	case planMove:
		switch i {
		case 1:
			return roleKey1
		case 2:
			return roleKey2
		}
	}
	return roleNone
}

// argStart begins argument i for the plan.
func (q *reqHalf) argStart(i int64) {
	q.role, q.roleLost = q.roleOf(i), false
	switch q.role {
	case roleKey1:
		q.key1.reset()
	case roleKey2:
		q.key2.reset()
	case roleValue:
		q.dig.Reset()
	}
}

// argData feeds bytes of the argument in progress to the plan.
func (q *reqHalf) argData(b []byte) {
	switch q.role {
	case roleKey1:
		q.key1.add(b)
	case roleKey2:
		q.key2.add(b)
	case roleValue:
		q.dig.Add(b)
	}
}

// argEnd completes the argument in progress for the plan.
func (q *reqHalf) argEnd() {
	ok := !q.roleLost
	switch q.role {
	case roleKey1:
		q.key1.ok = ok
	case roleKey2:
		q.key2.ok = ok
	case roleValue:
		if ok && q.key1.ok {
			kind := kindList
			if q.plan == planPublish {
				kind = kindPubSub
			}
			var nb [MaxLinkName]byte
			q.links = appendLink(q.links, protocols.LinkHandoffSend, kind, q.key1.appendTo(nb[:0]), nil, q.dig.Sum())
		}
	}
	q.role = roleNone
}

// intern returns k as a string, from a small cache when it was seen lately.
func (p *Parser) intern(k *name) string {
	var nb [MaxLinkName]byte
	b := k.appendTo(nb[:0])
	for _, s := range p.keys {
		if s == string(b) {
			return s
		}
	}
	s := string(b)
	p.keys[p.keyNext] = s
	p.keyNext = (p.keyNext + 1) % keyCacheLen
	return s
}

// ---- replies ----

// Element actions in a reply's plan.
const (
	actKey     uint8 = 1 << iota // the stream (XREAD) or list (BLPOP) name
	actID                        // a stream entry id
	actValue                     // a list value: digested
	actChan                      // a pub/sub message's channel
	actPayload                   // a pub/sub message's payload: digested
)

// factTarget returns what the bulk string starting now gives, from the
// plan of the command awaiting the reply and the element's place in it.
func (p *Parser) factTarget() uint8 {
	r := &p.rs
	d := len(r.stack)
	for i := range r.stack {
		if r.stack[i].attr {
			return 0
		}
	}
	var act uint8
	if d == 1 && (r.typ == '*' || r.typ == '>') && r.kindN > 0 {
		idx := r.stack[0].idx
		switch string(r.kind[:r.kindN]) {
		case "message", "smessage":
			if r.count == 3 && idx == 1 {
				act |= actChan
			} else if r.count == 3 && idx == 2 {
				act |= actPayload
			}
		case "pmessage":
			if r.count == 4 && idx == 2 {
				act |= actChan
			} else if r.count == 4 && idx == 3 {
				act |= actPayload
			}
		}
	}
	if r.typ == '>' {
		return act // out of band: never the reply to the pending command
	}
	switch r.plan {
	case planXAdd:
		if d == 0 {
			act |= actID
		}
	case planXRead:
		s := r.stack
		switch {
		case r.typ == '*' && d == 2 && s[1].idx == 0,
			r.typ == '%' && d == 1 && s[0].idx%2 == 0:
			act |= actKey
		case r.typ == '*' && d == 4 && s[1].idx == 1 && s[3].idx == 0,
			r.typ == '%' && d == 3 && s[0].idx%2 == 1 && s[2].idx == 0:
			act |= actID
		}
	case planBPop:
		if d == 1 && r.typ == '*' {
			switch r.stack[0].idx {
			case 0:
				act |= actKey
			case 1:
				act |= actValue
			}
		}
	case planMPop:
		switch {
		case d == 1 && r.typ == '*' && r.stack[0].idx == 0:
			act |= actKey
		case d == 2 && r.typ == '*' && r.stack[0].idx == 1:
			act |= actValue
		}
	case planPop:
		if d == 0 || d == 1 && r.typ == '*' {
			act |= actValue
		}
	case planMove:
		if d == 0 {
			act |= actValue
		}
	}
	return act
}

// factStart begins a bulk string with the actions act.
func (r *respHalf) factStart(act uint8) {
	r.act, r.actLost = act, false
	if act&actKey != 0 {
		r.key.reset()
	}
	if act&actChan != 0 {
		r.ch.reset()
	}
	if act&actID != 0 {
		r.idN = 0
	}
	r.dig.Reset()
}

// factData feeds bytes of the bulk string in progress.
func (r *respHalf) factData(b []byte) {
	if r.act&actKey != 0 {
		r.key.add(b)
	}
	if r.act&actChan != 0 {
		r.ch.add(b)
	}
	if r.act&actID != 0 {
		if len(b) > maxEntryID-r.idN {
			r.actLost = true
		} else {
			r.idN += copy(r.id[r.idN:], b)
		}
	}
	if r.act&(actValue|actPayload) != 0 {
		r.dig.Add(b)
	}
}

// factEnd completes the bulk string in progress: its links, or the facts
// later ones need.
func (p *Parser) factEnd() {
	r := &p.rs
	act := r.act
	r.act = 0
	if act == 0 {
		return
	}
	ok := !r.actLost
	if act&actKey != 0 {
		r.key.ok = ok
	}
	if act&actChan != 0 {
		r.ch.ok = ok
	}
	if act&actPayload != 0 {
		r.pubDig, r.pubOK = r.dig.Sum(), ok
	}
	if !ok {
		return
	}
	head := p.first()
	var nb [MaxLinkName]byte
	if act&actID != 0 && r.idN > 0 {
		switch {
		case r.plan == planXAdd && head != nil && head.keyOK&1 != 0:
			r.links = appendLink(r.links, protocols.LinkHandoffSend, kindStream, head.key1, r.id[:r.idN], 0)
		case r.plan == planXRead && r.key.ok:
			r.links = appendLink(r.links, protocols.LinkHandoffRecv, kindStream, r.key.appendTo(nb[:0]), r.id[:r.idN], 0)
		}
	}
	if act&actValue != 0 {
		switch r.plan {
		case planBPop, planMPop:
			if r.key.ok {
				r.links = appendLink(r.links, protocols.LinkHandoffRecv, kindList, r.key.appendTo(nb[:0]), nil, r.dig.Sum())
			}
		case planPop, planMove:
			if head != nil && head.keyOK&1 != 0 {
				r.links = appendLink(r.links, protocols.LinkHandoffRecv, kindList, head.key1, nil, r.dig.Sum())
			}
			if r.plan == planMove && head != nil && head.keyOK&2 != 0 {
				r.links = appendLink(r.links, protocols.LinkHandoffSend, kindList, head.key2, nil, r.dig.Sum())
			}
		}
	}
}

// pubsubLink adds the Recv link of a pub/sub message just classified.
func (p *Parser) pubsubLink() {
	r := &p.rs
	if !r.ch.ok || !r.pubOK {
		return
	}
	var nb [MaxLinkName]byte
	r.links = appendLink(r.links, protocols.LinkHandoffRecv, kindPubSub, r.ch.appendTo(nb[:0]), nil, r.pubDig)
}
