package tls

import (
	ctls "crypto/tls"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/wiretrace/wiretrace/protocols"
)

// Name is the protocol's name in span output.
const Name = "tls"

// MaxPlaintext bounds the decrypted bytes kept per direction while the
// inner parser needs more; beyond it they are dropped and reported to the
// inner parser as a gap.
const MaxPlaintext = 256 << 10

// Attribute keys of TLS spans. The OpenTelemetry TLS conventions give
// tls.client.server_name, tls.next_protocol, tls.protocol.version,
// tls.cipher, tls.client.ja3, tls.server.ja3s, tls.server.subject,
// tls.server.issuer, tls.server.not_before and tls.server.not_after; the
// others are wiretrace's.
const (
	AttrServerName      = "tls.client.server_name"
	AttrOfferedALPN     = "tls.client.alpn" // offered protocols, comma-separated
	AttrJA3             = "tls.client.ja3"
	AttrJA4             = "tls.client.ja4"
	AttrJA3S            = "tls.server.ja3s"
	AttrVersion         = "tls.protocol.version" // "1.2", "1.3"
	AttrCipher          = "tls.cipher"
	AttrALPN            = "tls.next_protocol" // the selected protocol
	AttrSubject         = "tls.server.subject"
	AttrIssuer          = "tls.server.issuer"
	AttrNotBefore       = "tls.server.not_before" // RFC 3339
	AttrNotAfter        = "tls.server.not_after"
	AttrAlert           = "tls.alert" // alert description, e.g. "handshake_failure"
	AttrEncrypted       = "tls.encrypted"
	AttrRequestRecords  = "tls.request.records"
	AttrRequestSize     = "tls.request.size"
	AttrResponseRecords = "tls.response.records"
	AttrResponseSize    = "tls.response.size"
	AttrErrorType       = "error.type"
)

// Config configures the TLS protocol beyond protocols.Config.
type Config struct {
	// Keys, when set, gives session secrets: the records of a session it
	// knows are decrypted and their plaintext parsed by an Inner protocol.
	Keys KeySource
	// Inner lists the protocols the plaintext may carry. The ALPN protocol
	// chooses ("h2": "http2"; "http/1.1": "http"), else the first plaintext
	// bytes are sniffed. Nil disables decryption.
	Inner *protocols.Registry
	// Counters, when set, counts what the parsers did (shared by every
	// connection of a pipeline).
	Counters *Counters
}

// Counters counts what the parsers of one protocol instance did. It is
// safe for concurrent use; the zero value is ready.
type Counters struct {
	c [nCounters]atomic.Uint64
}

// Counter indexes.
const (
	cHandshakes = iota
	cDecrypted
	cNoKeys
	cUnsupported
	cAuthFailures
	cRecords
	cFallbacks
	nCounters
)

// Stats is a snapshot of Counters.
type Stats struct {
	Handshakes   uint64 // ClientHellos seen
	Decrypted    uint64 // sessions with at least one record decrypted
	NoKeys       uint64 // sessions the key source had no (usable) secrets for (in a live capture, secrets found later take a session off)
	Unsupported  uint64 // sessions with secrets but a cipher suite that is not decrypted
	AuthFailures uint64 // records that failed authentication
	Records      uint64 // records decrypted
	Fallbacks    uint64 // sessions that went back to encrypted spans after decrypting (authentication failure, gap, plaintext no parser took)
}

// Stats returns the counters so far. A nil c gives zeros.
func (c *Counters) Stats() Stats {
	if c == nil {
		return Stats{}
	}
	return Stats{c.c[cHandshakes].Load(), c.c[cDecrypted].Load(), c.c[cNoKeys].Load(), c.c[cUnsupported].Load(),
		c.c[cAuthFailures].Load(), c.c[cRecords].Load(), c.c[cFallbacks].Load()}
}

// Each calls f for each counter, in a fixed order, with snake_case names.
func (s *Stats) Each(f func(name string, v uint64)) {
	f("tls_handshakes", s.Handshakes)
	f("tls_decrypted_sessions", s.Decrypted)
	f("tls_no_keys", s.NoKeys)
	f("tls_unsupported_cipher", s.Unsupported)
	f("tls_auth_failures", s.AuthFailures)
	f("tls_records_decrypted", s.Records)
	f("tls_fallbacks", s.Fallbacks)
}

func (p *Parser) count(i int) {
	if c := p.cfg.Counters; c != nil {
		c.c[i].Add(1)
	}
}

// ports are the well-known TLS server ports: HTTPS, alternative HTTPS,
// Kubernetes API, SMTPS, LDAPS, IMAPS, POP3S, DNS over TLS, AMQPS.
var ports = []uint16{443, 8443, 9443, 6443, 465, 636, 993, 995, 853, 5671}

// Protocol is the TLS descriptor without keys: handshake and encrypted
// exchange spans.
var Protocol = New(nil)

// New returns a TLS protocol descriptor with cfg's keys, inner protocols
// and counters. A nil cfg gives Protocol's behaviour.
func New(cfg *Config) *protocols.Protocol {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	return &protocols.Protocol{
		Name:    Name,
		Summary: "TLS: handshake (SNI, ALPN, version, cipher, JA3/JA4, certificate, alerts), encrypted exchanges; decrypted with --tls-keylog",
		Ports:   ports,
		Sniff:   Sniff,
		New:     func(pc *protocols.Config) protocols.Parser { return NewParser(pc, &c) },
	}
}

// Sniff recognises a ClientHello (ToServer) or a ServerHello (ToClient) in
// a handshake record of TLS 1.0 to 1.3.
func Sniff(data []byte) protocols.Direction {
	if len(data) < HeaderLen+6 {
		return protocols.DirUnknown
	}
	h, ok := parseHeader(data)
	if !ok || h.typ != typeHandshake || h.version < versionSSL30 || h.version > versionTLS12 || h.length < 4+38 {
		return protocols.DirUnknown
	}
	body := data[HeaderLen:]
	n := int(body[1])<<16 | int(body[2])<<8 | int(body[3])
	if body[4] != 3 || body[5] > 3 || n < 38 || n > MaxHandshakeLen {
		return protocols.DirUnknown
	}
	switch body[0] {
	case hsClientHello:
		return protocols.ToServer
	case hsServerHello:
		return protocols.ToClient
	}
	return protocols.DirUnknown
}

// pending message kinds.
const (
	pendHSRequest = iota + 1
	pendHSResponse
	pendAppRequest
	pendAlert
)

type pending struct {
	kind  uint8
	alert int // alert description, -1 for none
}

// dirState is the state of one direction.
type dirState struct {
	hs         []byte // handshake bytes not yet a whole message
	ccs        bool   // TLS 1.2: ChangeCipherSpec seen, records are encrypted
	app        bool   // this side's Finished is past: records are application data
	encrypted  int    // TLS 1.3: encrypted records seen before this side's Finished
	seen       int    // encrypted records seen (TLS 1.2: after ChangeCipherSpec)
	ciph       *recordCipher
	plain      []byte // decrypted application data the inner parser has not consumed
	recN       int    // bytes of the current record to consume once plain is drained
	innerBusy  bool   // the inner parser is inside a message
	innerEnded bool   // the inner parser's End returned false
	resync     bool   // bytes were lost: look for a record header
	pend       [4]pending
	npend      int
	traffic    []byte // TLS 1.3 application traffic secret, used after Finished
}

// exchange is an encrypted request and response told apart by turns.
type exchange struct {
	reqOpen                bool // a request was emitted, its response not yet
	respActive             bool // the server answers
	partial                bool
	reqRecords, reqBytes   int
	respRecords, respBytes int
}

// Parser is the TLS parser of one connection. It is not safe for
// concurrent use.
type Parser struct {
	pc   *protocols.Config
	cfg  *Config
	dirs [2]dirState

	ch     clientHello
	sh     serverHello
	chSize int
	haveCH bool
	haveSH bool
	hrr    bool
	alpn   string // selected
	cert   certInfo
	hasCrt bool

	hsReqSent, hsRespSent bool
	encName               string // "encrypted <SNI>", made once

	gapped    bool // bytes were lost: records after a lost ServerHello are exchanges too
	keyed     bool // secrets found: records are decrypted
	keysTried bool
	// keysMissing: the key source had no secrets when they were first
	// needed; they are looked for again at each encrypted record, up to
	// maxLateTries times (a live capture can see records before the
	// client has written its key log line).
	keysMissing bool
	lateTries   int
	decrypted   bool // a record was decrypted (counted once)
	c12         [2]*recordCipher
	inner       protocols.Parser
	innerName   string
	innerDone   bool // the inner protocol was chosen (or none fits)
	upgrade     bool // an in-band upgrade: inner is fixed, own messages name protocol "tls"

	ex exchange
}

var (
	_ protocols.Parser = (*Parser)(nil)
	_ protocols.Idler  = (*Parser)(nil)
	_ protocols.Turner = (*Parser)(nil)
)

// NewParser returns a parser for one connection. Nil configs mean the
// defaults.
func NewParser(pc *protocols.Config, cfg *Config) *Parser {
	if cfg == nil {
		cfg = &Config{}
	}
	return &Parser{pc: pc, cfg: cfg}
}

// NewUpgrade returns a parser for the TLS part of a connection that turned
// to TLS in band (a database's SSLRequest, see protocols.Config.StartTLS):
// its decrypted plaintext goes to inner, the protocol continuing after its
// upgrade, whose messages are named protocol name, instead of a parser
// chosen by ALPN or sniffing (cfg.Inner is not needed). Its own messages
// (handshake, encrypted exchanges, alerts) set Message.Protocol to "tls".
// Without cfg.Keys it behaves as NewParser's parser.
func NewUpgrade(pc *protocols.Config, cfg *Config, inner protocols.Parser, name string) *Parser {
	p := NewParser(pc, cfg)
	p.inner, p.innerName, p.innerDone, p.upgrade = inner, name, inner != nil, true
	return p
}

func idx(d protocols.Direction) int {
	if d == protocols.ToClient {
		return 1
	}
	return 0
}

func (p *Parser) tls13() bool { return p.haveSH && p.sh.version == versionTLS13 }

func (p *Parser) queue(di int, kind uint8, alert int) {
	ds := &p.dirs[di]
	if ds.npend < len(ds.pend) {
		ds.pend[ds.npend] = pending{kind, alert}
		ds.npend++
	}
}

// Parse implements protocols.Parser.
func (p *Parser) Parse(d protocols.Direction, data []byte, msg *protocols.Message) (int, bool, error) {
	di := idx(d)
	ds := &p.dirs[di]
	for guard := 0; guard < 1<<12; guard++ {
		if ds.npend > 0 {
			pd := ds.pend[0]
			copy(ds.pend[:], ds.pend[1:ds.npend])
			ds.npend--
			p.fill(pd, msg)
			return 0, true, nil
		}
		if p.keyed && p.inner != nil && len(ds.plain) > 0 {
			n, done, err := p.inner.Parse(d, ds.plain, msg)
			if err != nil || n < 0 || n > len(ds.plain) {
				msg.Reset()
				p.fallback()
				continue
			}
			ds.plain = ds.plain[:copy(ds.plain, ds.plain[n:])]
			if done {
				ds.innerBusy = false
				if msg.Protocol == "" {
					msg.Protocol = p.innerName
				}
				return 0, true, nil
			}
			if n > 0 {
				idler, ok := p.inner.(protocols.Idler)
				ds.innerBusy = !ok || !idler.Idle(d)
				continue
			}
		}
		if ds.recN > 0 {
			n := ds.recN
			ds.recN = 0
			return n, false, nil
		}
		if ds.resync {
			i := resync(data)
			if i < 0 {
				return max(0, len(data)-HeaderLen+1), false, nil
			}
			ds.resync = false
			if i > 0 {
				return i, false, nil
			}
		}
		if len(data) < HeaderLen {
			return 0, false, nil
		}
		h, ok := parseHeader(data)
		if !ok {
			return 0, false, parseErr(0, ErrRecord)
		}
		if len(data) < HeaderLen+h.length {
			return 0, false, nil
		}
		if err := p.record(di, h, data[:HeaderLen], data[HeaderLen:HeaderLen+h.length]); err != nil {
			return 0, false, err
		}
		ds.recN = HeaderLen + h.length
	}
	return 0, false, parseErr(0, ErrRecord)
}

// maxLateTries bounds the key lookups of a session whose secrets were
// missing when first needed.
const maxLateTries = 64

// record handles one whole record of direction di.
func (p *Parser) record(di int, h recordHeader, hdr, frag []byte) error {
	ds := &p.dirs[di]
	if ds.ccs && h.typ != typeChangeCipherSpec && h.typ != typeHeartbeat || p.tls13() && h.typ == typeApplicationData {
		ds.seen++
		if p.keysMissing && !p.keyed && p.lateTries < maxLateTries {
			p.lateKeys(di)
		}
	}
	switch h.typ {
	case typeChangeCipherSpec:
		if p.tls13() || !p.haveSH {
			return nil // TLS 1.3 middlebox compatibility
		}
		ds.ccs = true
		if !p.keysTried {
			p.keys12()
		}
		if p.keyed {
			ds.ciph = p.c12[di]
		}
	case typeAlert:
		if !ds.ccs {
			if len(frag) >= 2 {
				p.alert(di, frag[0], frag[1])
			}
			return nil
		}
		if plain, ok := p.open(di, hdr, frag); ok && len(plain) >= 2 {
			p.alert(di, plain[0], plain[1])
		}
	case typeHandshake:
		if ds.ccs {
			if p.keyed {
				if plain, ok := p.open(di, hdr, frag); ok {
					return p.handshake(di, plain)
				}
			}
			p.finished(di) // the first encrypted handshake message
			return nil
		}
		return p.handshake(di, frag)
	case typeApplicationData:
		return p.appData(di, h, hdr, frag)
	}
	return nil
}

// appData handles an application_data record: TLS 1.3 encrypted handshake
// messages, then application data.
func (p *Parser) appData(di int, h recordHeader, hdr, frag []byte) error {
	ds := &p.dirs[di]
	if !p.haveSH && !p.gapped {
		return nil // early data before the ServerHello
	}
	if p.tls13() && !ds.app {
		ds.encrypted++
		if !p.keysTried {
			p.keys13()
		}
		if !p.keyed {
			if di == 0 {
				// The client's first encrypted record is its Finished;
				// the server's flight is over by then.
				p.dirs[0].app, p.dirs[1].app = true, true
			}
			return nil
		}
	}
	if p.keyed && ds.ciph != nil {
		plain, typ, ok := p.decrypt(di, hdr, frag)
		if !ok {
			return nil
		}
		switch typ {
		case typeHandshake:
			return p.handshake(di, plain)
		case typeAlert:
			if len(plain) >= 2 {
				p.alert(di, plain[0], plain[1])
			}
		case typeApplicationData:
			p.plaintext(di, plain)
		}
		return nil
	}
	p.encryptedData(di, h)
	return nil
}

// encryptedData counts an application data record that is not decrypted in
// the exchange it belongs to.
func (p *Parser) encryptedData(di int, h recordHeader) {
	if p.tls13() && h.length == 19 {
		return // an encrypted alert (2 bytes, the type, a 16-byte tag)
	}
	if di == 0 {
		if !p.ex.reqOpen {
			p.ex = exchange{reqOpen: true, reqRecords: 1, reqBytes: h.length}
			p.queue(0, pendAppRequest, -1)
			return
		}
		p.ex.reqRecords++
		p.ex.reqBytes += h.length
		return
	}
	if p.ex.reqOpen {
		p.ex.respActive = true
		p.ex.respRecords++
		p.ex.respBytes += h.length
	}
}

// open decrypts a TLS 1.2 record (alert or handshake after
// ChangeCipherSpec).
func (p *Parser) open(di int, hdr, frag []byte) ([]byte, bool) {
	ds := &p.dirs[di]
	if ds.ciph == nil {
		return nil, false
	}
	plain, _, ok := p.decrypt(di, hdr, frag)
	return plain, ok
}

// decrypt decrypts a record of direction di into the storage after its
// pending plaintext; on failure the session falls back to encrypted spans.
func (p *Parser) decrypt(di int, hdr, frag []byte) ([]byte, uint8, bool) {
	ds := &p.dirs[di]
	start := len(ds.plain)
	out, typ, ok := ds.ciph.open(ds.plain, hdr, frag)
	if !ok {
		p.count(cAuthFailures)
		p.fallback()
		return nil, 0, false
	}
	p.count(cRecords)
	if !p.decrypted {
		p.decrypted = true
		p.count(cDecrypted)
	}
	// The plaintext sits after the pending bytes; the caller decides
	// whether it joins them (application data) or not.
	plain := out[start:]
	ds.plain = out[:start]
	return plain, typ, true
}

// plaintext hands decrypted application data to the inner parser.
func (p *Parser) plaintext(di int, plain []byte) {
	ds := &p.dirs[di]
	if !p.innerDone {
		p.innerDone = true
		p.chooseInner(plain)
	}
	if p.inner == nil {
		p.fallback()
		return
	}
	// plain already follows ds.plain in its storage.
	ds.plain = ds.plain[:len(ds.plain)+len(plain)]
	if len(ds.plain) > MaxPlaintext {
		p.inner.Gap(dirOf(di), len(ds.plain))
		ds.plain = ds.plain[:0]
		ds.innerBusy = false
	}
}

func dirOf(di int) protocols.Direction {
	if di == 1 {
		return protocols.ToClient
	}
	return protocols.ToServer
}

// chooseInner picks the protocol of the plaintext: by ALPN, else by
// sniffing its first bytes.
func (p *Parser) chooseInner(plain []byte) {
	reg := p.cfg.Inner
	if reg == nil {
		return
	}
	var proto *protocols.Protocol
	switch p.alpn {
	case "h2":
		proto = reg.Lookup("http2")
	case "http/1.1", "http/1.0":
		proto = reg.Lookup("http")
	}
	if proto == nil {
		proto, _ = reg.Sniff(plain, 0, 0)
	}
	if proto == nil || proto.New == nil || proto.Name == Name {
		return
	}
	p.inner = proto.New(p.pc)
	p.innerName = proto.Name
}

// fallback stops decrypting the session: the rest gets encrypted spans.
func (p *Parser) fallback() {
	if !p.keyed {
		return
	}
	p.keyed = false
	p.count(cFallbacks)
	for i := range p.dirs {
		ds := &p.dirs[i]
		ds.ciph, ds.plain, ds.innerBusy, ds.traffic = nil, nil, false, nil
	}
	p.c12 = [2]*recordCipher{}
}

// keys12 looks up the TLS 1.2 secrets at the first ChangeCipherSpec.
func (p *Parser) keys12() {
	p.keysTried = true
	if p.cfg.Keys == nil || p.cfg.Inner == nil && p.inner == nil || !p.haveCH {
		return
	}
	sec, ok := p.cfg.Keys.Secrets(p.ch.random[:])
	if !ok || len(sec.MasterSecret) != 48 {
		p.count(cNoKeys)
		p.keysMissing = true
		return
	}
	s, ok := suites[p.sh.cipher]
	if !ok || s.tls13 {
		p.count(cUnsupported)
		return
	}
	etm := slices.Contains(p.sh.extensions, extEncryptThenMAC)
	c, sv, err := newCiphers12(s, sec.MasterSecret, p.ch.random[:], p.sh.random[:], etm)
	if err != nil {
		p.count(cUnsupported)
		return
	}
	p.c12 = [2]*recordCipher{c, sv}
	p.keyed = true
}

// keys13 looks up the TLS 1.3 secrets at the first encrypted record.
func (p *Parser) keys13() {
	p.keysTried = true
	if p.cfg.Keys == nil || p.cfg.Inner == nil && p.inner == nil || !p.haveCH {
		return
	}
	sec, ok := p.cfg.Keys.Secrets(p.ch.random[:])
	if !ok || sec.ClientHandshake == nil || sec.ServerHandshake == nil || sec.ClientTraffic == nil || sec.ServerTraffic == nil {
		p.count(cNoKeys)
		p.keysMissing = true
		return
	}
	s, ok := suites[p.sh.cipher]
	if !ok || !s.tls13 {
		p.count(cUnsupported)
		return
	}
	c, err1 := newCipher13(s, sec.ClientHandshake)
	sv, err2 := newCipher13(s, sec.ServerHandshake)
	if err1 != nil || err2 != nil {
		p.count(cUnsupported)
		return
	}
	p.dirs[0].ciph, p.dirs[1].ciph = c, sv
	p.dirs[0].traffic = append([]byte(nil), sec.ClientTraffic...)
	p.dirs[1].traffic = append([]byte(nil), sec.ServerTraffic...)
	p.keyed = true
}

// lateKeys looks the secrets up again for a session whose secrets were
// missing when first needed, at an encrypted record of direction di. The
// records already passed stay undecrypted; the next ones' sequence numbers
// follow from the records seen: TLS 1.2 counts the records since each
// side's ChangeCipherSpec; in TLS 1.3 the client's first encrypted record
// is its Finished, and the server's application records start once the
// client has sent one (a few sequence numbers are tried, for records the
// server sent between its Finished and the client's).
func (p *Parser) lateKeys(di int) {
	p.lateTries++
	sec, ok := p.cfg.Keys.Secrets(p.ch.random[:])
	if !ok {
		return
	}
	s, ok := suites[p.sh.cipher]
	if !ok || s.tls13 != p.tls13() {
		p.keysMissing = false
		return
	}
	prior := func(i int) uint64 {
		n := p.dirs[i].seen
		if i == di {
			n-- // the record being handled
		}
		return uint64(max(n, 0))
	}
	if !p.tls13() {
		if len(sec.MasterSecret) != 48 {
			return
		}
		etm := slices.Contains(p.sh.extensions, extEncryptThenMAC)
		c, sv, err := newCiphers12(s, sec.MasterSecret, p.ch.random[:], p.sh.random[:], etm)
		if err != nil {
			p.keysMissing = false
			return
		}
		p.c12 = [2]*recordCipher{c, sv}
		for i := range p.dirs {
			if p.dirs[i].ccs {
				p.c12[i].seq = prior(i)
				p.dirs[i].ciph = p.c12[i]
			}
		}
	} else {
		if sec.ClientHandshake == nil || sec.ServerHandshake == nil || sec.ClientTraffic == nil || sec.ServerTraffic == nil {
			return
		}
		var ciph [2]*recordCipher
		var traffic [2][]byte
		var err error
		cl, sv := &p.dirs[0], &p.dirs[1]
		if n := prior(0); n == 0 {
			ciph[0], err = newCipher13(s, sec.ClientHandshake)
			traffic[0] = sec.ClientTraffic
		} else if ciph[0], err = newCipher13(s, sec.ClientTraffic); err == nil {
			ciph[0].seq = n - 1
		}
		if err != nil {
			p.keysMissing = false
			return
		}
		serverDone := sv.app || cl.seen > 0
		if serverDone {
			if ciph[1], err = newCipher13(s, sec.ServerTraffic); err == nil {
				ciph[1].trial = int(min(prior(1), 8))
			}
		} else if ciph[1], err = newCipher13(s, sec.ServerHandshake); err == nil {
			ciph[1].seq = prior(1)
			traffic[1] = sec.ServerTraffic
		}
		if err != nil {
			p.keysMissing = false
			return
		}
		sv.app = sv.app || serverDone
		for i := range p.dirs {
			p.dirs[i].ciph = ciph[i]
			p.dirs[i].traffic = append([]byte(nil), traffic[i]...)
			if traffic[i] == nil {
				p.dirs[i].traffic = nil
			}
		}
	}
	p.keyed = true
	p.keysMissing = false
	if c := p.cfg.Counters; c != nil {
		c.c[cNoKeys].Add(^uint64(0)) // found after all
	}
}

// handshake appends handshake bytes of direction di and handles each whole
// message.
func (p *Parser) handshake(di int, b []byte) error {
	ds := &p.dirs[di]
	if len(ds.hs) > 0 {
		ds.hs = append(ds.hs, b...)
		b = ds.hs
	}
	off := 0
	for off+4 <= len(b) {
		n := int(b[off+1])<<16 | int(b[off+2])<<8 | int(b[off+3])
		if n > MaxHandshakeLen {
			return parseErr(off, ErrHandshakeTooLarge)
		}
		if off+4+n > len(b) {
			break
		}
		if err := p.message(di, b[off], b[off+4:off+4+n]); err != nil {
			return err
		}
		off += 4 + n
	}
	rest := b[off:]
	if len(rest) == 0 {
		ds.hs = ds.hs[:0]
		return nil
	}
	if len(ds.hs) > 0 {
		ds.hs = ds.hs[:copy(ds.hs, rest)]
	} else {
		ds.hs = append(ds.hs[:0], rest...)
	}
	return nil
}

// message handles one handshake message.
func (p *Parser) message(di int, typ uint8, body []byte) error {
	switch typ {
	case hsClientHello:
		if di != 0 || p.haveCH {
			return nil // a second ClientHello (after HelloRetryRequest)
		}
		if !parseClientHello(body, &p.ch) {
			return parseErr(0, ErrHandshake)
		}
		p.haveCH = true
		p.chSize = len(body) + 4
		p.count(cHandshakes)
		p.hsReqSent = true
		p.queue(0, pendHSRequest, -1)
	case hsServerHello:
		if di != 1 || p.haveSH {
			return nil
		}
		var sh serverHello
		if !parseServerHello(body, &sh) {
			return parseErr(0, ErrHandshake)
		}
		if sh.retry {
			p.hrr = true
			return nil
		}
		p.sh, p.haveSH = sh, true
		p.alpn = sh.alpn
	case hsEncryptedExtensions:
		if di == 1 {
			if a, ok := parseEncryptedExtensions(body); ok && a != "" {
				p.alpn = a
			}
		}
	case hsCertificate:
		if di == 1 && !p.hasCrt {
			if ci, ok := parseCertificate(body, p.tls13()); ok {
				p.cert, p.hasCrt = ci, true
			}
		}
	case hsFinished:
		p.finished(di)
	case hsKeyUpdate:
		if ds := &p.dirs[di]; p.keyed && p.tls13() && ds.app && ds.ciph != nil {
			if ds.ciph.update() != nil {
				p.fallback()
			}
		}
	}
	return nil
}

// finished handles a side's Finished: the handshake is over for it.
func (p *Parser) finished(di int) {
	ds := &p.dirs[di]
	if ds.app {
		return
	}
	ds.app = true
	if p.tls13() && p.keyed && ds.traffic != nil {
		s := ds.ciph.suite
		c, err := newCipher13(s, ds.traffic)
		if err != nil {
			p.fallback()
		} else {
			ds.ciph = c
		}
		ds.traffic = nil
	}
	if di == 1 && !p.hsRespSent {
		p.hsRespSent = true
		p.queue(1, pendHSResponse, -1)
	}
}

// alert handles an alert of direction di.
func (p *Parser) alert(di int, level, desc uint8) {
	if desc == 0 || desc == 90 || level == 1 {
		// close_notify, user_canceled, and warnings (such as an
		// unrecognized_name before a ServerHello) do not end a session.
		return
	}
	if !p.hsRespSent && p.haveCH {
		p.hsRespSent = true
		p.queue(di, pendHSResponse, int(desc))
		return
	}
	p.queue(di, pendAlert, int(desc))
}

// fill writes a pending message.
func (p *Parser) fill(pd pending, m *protocols.Message) {
	if p.upgrade {
		m.Protocol = Name
	}
	switch pd.kind {
	case pendHSRequest:
		m.Kind = protocols.Request
		m.Name = "handshake"
		if p.ch.serverName != "" {
			m.Name += " " + p.ch.serverName
			m.Attrs = append(m.Attrs, protocols.String(AttrServerName, p.ch.serverName))
		}
		m.Size = p.chSize
		if len(p.ch.alpn) > 0 {
			m.Attrs = append(m.Attrs, protocols.String(AttrOfferedALPN, strings.Join(p.ch.alpn, ",")))
		}
		m.Attrs = append(m.Attrs, protocols.String(AttrJA3, ja3(&p.ch)), protocols.String(AttrJA4, ja4(&p.ch)))
	case pendHSResponse:
		m.Kind = protocols.Response
		m.Status = protocols.StatusOK
		if p.haveSH {
			if v := versionName(p.sh.version); v != "" {
				m.Attrs = append(m.Attrs, protocols.String(AttrVersion, v))
			}
			m.Attrs = append(m.Attrs, protocols.String(AttrCipher, ctls.CipherSuiteName(p.sh.cipher)),
				protocols.String(AttrJA3S, ja3s(&p.sh)))
			if p.alpn != "" {
				m.Attrs = append(m.Attrs, protocols.String(AttrALPN, p.alpn))
			}
		}
		if p.hasCrt && (p.cert.subject != "" || p.cert.issuer != "") {
			m.Attrs = append(m.Attrs, protocols.String(AttrSubject, p.cert.subject),
				protocols.String(AttrIssuer, p.cert.issuer),
				protocols.String(AttrNotBefore, p.cert.notBefore.UTC().Format(time.RFC3339)),
				protocols.String(AttrNotAfter, p.cert.notAfter.UTC().Format(time.RFC3339)))
		}
		if pd.alert >= 0 {
			m.Status = protocols.StatusError
			a := alertName(uint8(pd.alert))
			m.Attrs = append(m.Attrs, protocols.String(AttrAlert, a), protocols.String(AttrErrorType, a))
		} else if pd.alert == -2 {
			m.Status = protocols.StatusError
			m.Attrs = append(m.Attrs, protocols.String(AttrErrorType, "handshake_incomplete"))
		}
	case pendAppRequest:
		m.Kind = protocols.Request
		if p.encName == "" {
			p.encName = "encrypted"
			if p.ch.serverName != "" {
				p.encName += " " + p.ch.serverName
			}
		}
		m.Name = p.encName
		if p.ch.serverName != "" {
			m.Attrs = append(m.Attrs, protocols.String(AttrServerName, p.ch.serverName))
		}
		m.Size = p.ex.reqBytes
		m.Attrs = append(m.Attrs, protocols.String(AttrEncrypted, "true"))
		if p.alpn != "" {
			m.Attrs = append(m.Attrs, protocols.String(AttrALPN, p.alpn))
		}
	case pendAlert:
		m.Kind = protocols.Response
		m.Unsolicited = true
		m.Status = protocols.StatusError
		a := alertName(uint8(pd.alert))
		m.Name = "alert " + a
		m.Attrs = append(m.Attrs, protocols.String(AttrAlert, a), protocols.String(AttrErrorType, a))
	}
}

// fillResponse writes the response of the encrypted exchange in progress.
func (p *Parser) fillResponse(m *protocols.Message) {
	if p.upgrade {
		m.Protocol = Name
	}
	m.Kind = protocols.Response
	m.Status = protocols.StatusOK
	m.Partial = p.ex.partial
	m.Size = p.ex.respBytes
	m.Attrs = append(m.Attrs,
		protocols.Int(AttrRequestRecords, int64(p.ex.reqRecords)),
		protocols.Int(AttrRequestSize, int64(p.ex.reqBytes)),
		protocols.Int(AttrResponseRecords, int64(p.ex.respRecords)),
		protocols.Int(AttrResponseSize, int64(p.ex.respBytes)))
	p.ex = exchange{}
}

// Turn implements protocols.Turner: the server's run of records (an
// encrypted response, or a TLS 1.3 flight that was not decrypted) ends
// when the client speaks.
func (p *Parser) Turn(d protocols.Direction, m *protocols.Message) bool {
	if d != protocols.ToClient {
		return false
	}
	if p.haveSH && !p.hsRespSent && p.tls13() && !p.keyed {
		p.hsRespSent = true
		p.fill(pending{kind: pendHSResponse, alert: -1}, m)
		return true
	}
	if p.ex.respActive && !p.keyed {
		p.fillResponse(m)
		return true
	}
	return false
}

// Idle implements protocols.Idler.
func (p *Parser) Idle(d protocols.Direction) bool {
	di := idx(d)
	ds := &p.dirs[di]
	if ds.npend > 0 {
		return false
	}
	if p.keyed && ds.app && p.inner != nil {
		return len(ds.plain) == 0 && !ds.innerBusy
	}
	if di == 0 {
		return p.hsReqSent
	}
	if !p.hsRespSent {
		return false
	}
	return !p.ex.respActive
}

// Gap implements protocols.Parser: the record framing is looked for again;
// a decrypted session falls back to encrypted spans (the record sequence
// numbers are lost).
func (p *Parser) Gap(d protocols.Direction, size int) {
	ds := &p.dirs[idx(d)]
	ds.resync = true
	p.gapped = true
	ds.hs = ds.hs[:0]
	ds.recN = 0
	p.fallback()
	p.ex.partial = p.ex.reqOpen
}

// End implements protocols.Parser.
func (p *Parser) End(d protocols.Direction, m *protocols.Message) bool {
	di := idx(d)
	ds := &p.dirs[di]
	if ds.npend > 0 {
		pd := ds.pend[0]
		copy(ds.pend[:], ds.pend[1:ds.npend])
		ds.npend--
		p.fill(pd, m)
		return true
	}
	if p.keyed && p.inner != nil && !ds.innerEnded {
		if p.inner.End(d, m) {
			if m.Protocol == "" {
				m.Protocol = p.innerName
			}
			return true
		}
		ds.innerEnded = true
	}
	if di != 1 {
		return false
	}
	if p.haveCH && p.haveSH && !p.hsRespSent {
		p.hsRespSent = true
		alert := -2 // incomplete
		if p.tls13() && p.dirs[0].app {
			alert = -1
		}
		p.fill(pending{kind: pendHSResponse, alert: alert}, m)
		return true
	}
	if p.ex.respActive {
		p.fillResponse(m)
		return true
	}
	return false
}

// String describes the parser's state for debugging, without secrets.
func (p *Parser) String() string {
	return "tls.Parser{version=" + versionName(p.sh.version) + " keyed=" + strconv.FormatBool(p.keyed) + "}"
}
