package tls

import (
	"bytes"
	"encoding/hex"
	"sync"
)

// Secrets are the secrets of one TLS session, as an NSS key log gives them
// (https://nss-crypto.org/reference/security/nss/legacy/key_log_format/).
// Their String method never shows them.
type Secrets struct {
	// MasterSecret is the TLS 1.2 (and earlier) master secret
	// (CLIENT_RANDOM).
	MasterSecret []byte
	// ClientHandshake and ServerHandshake are the TLS 1.3 handshake
	// traffic secrets (CLIENT_HANDSHAKE_TRAFFIC_SECRET,
	// SERVER_HANDSHAKE_TRAFFIC_SECRET).
	ClientHandshake, ServerHandshake []byte
	// ClientTraffic and ServerTraffic are the first TLS 1.3 application
	// traffic secrets (CLIENT_TRAFFIC_SECRET_0, SERVER_TRAFFIC_SECRET_0).
	ClientTraffic, ServerTraffic []byte
}

// String returns a description that does not show the secrets.
func (s Secrets) String() string { return "tls.Secrets{redacted}" }

// GoString is String, so that %#v does not show the secrets either.
func (s Secrets) GoString() string { return s.String() }

// KeySource gives the secrets of TLS sessions. The parser asks it once per
// connection and direction, when the first record that needs them arrives;
// Secrets must be safe for concurrent use when several pipelines share the
// source.
type KeySource interface {
	// Secrets returns the secrets of the session whose ClientHello
	// carried clientRandom (32 bytes), and whether any were found. The
	// parser does not keep or modify the returned slices beyond deriving
	// keys from them.
	Secrets(clientRandom []byte) (Secrets, bool)
}

// MaxKeyLogSessions bounds the sessions a KeyLog holds; lines for further
// sessions are counted in KeyLogStats.Dropped.
const MaxKeyLogSessions = 1 << 20

// maxKeyLogLine bounds a key log line; a longer one is counted as invalid.
const maxKeyLogLine = 1024

// KeyLog is an in-memory NSS key log: write the file's bytes to it (in
// pieces of any size: a partial last line waits for its end) and it serves
// their secrets as a KeySource. Lines with other labels (EXPORTER_SECRET,
// early traffic secrets) and comments are ignored; malformed lines are
// counted. It is safe for concurrent use. The zero value is ready to use.
type KeyLog struct {
	mu       sync.Mutex
	sessions map[[32]byte]*Secrets
	partial  []byte
	stats    KeyLogStats
}

// KeyLogStats counts what a KeyLog read.
type KeyLogStats struct {
	Lines    uint64 // lines with a known label, stored
	Invalid  uint64 // lines that are not "LABEL <64 hex> <hex>", or too long
	Sessions uint64 // sessions held
	Dropped  uint64 // lines dropped because MaxKeyLogSessions sessions were held
}

var _ KeySource = (*KeyLog)(nil)

// Write parses the complete lines of p (with the partial line of earlier
// writes) and keeps their secrets. It never fails.
func (k *KeyLog) Write(p []byte) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if len(k.partial)+len(p) > maxKeyLogLine {
				k.stats.Invalid++
				k.partial = k.partial[:0]
				return n, nil // the rest of the line is skipped at its end
			}
			k.partial = append(k.partial, p...)
			return n, nil
		}
		line := p[:i]
		if len(k.partial) > 0 {
			line = append(k.partial, line...)
			k.partial = k.partial[:0]
		}
		k.line(line)
		p = p[i+1:]
	}
	return n, nil
}

// Flush parses a last line that has no line end.
func (k *KeyLog) Flush() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.partial) > 0 {
		k.line(k.partial)
		k.partial = k.partial[:0]
	}
}

func (k *KeyLog) line(line []byte) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] == '#' {
		return
	}
	if len(line) > maxKeyLogLine {
		k.stats.Invalid++
		return
	}
	label, rest, ok1 := bytes.Cut(line, []byte{' '})
	random, secret, ok2 := bytes.Cut(rest, []byte{' '})
	if !ok1 || !ok2 || len(random) != 64 || len(secret) == 0 || len(secret)%2 != 0 || len(secret) > 256 {
		k.stats.Invalid++
		return
	}
	var key [32]byte
	if _, err := hex.Decode(key[:], random); err != nil {
		k.stats.Invalid++
		return
	}
	sec := make([]byte, len(secret)/2)
	if _, err := hex.Decode(sec, secret); err != nil {
		k.stats.Invalid++
		return
	}
	s := k.sessions[key]
	if s == nil {
		switch string(label) {
		case "CLIENT_RANDOM", "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
			"CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0":
		default:
			return
		}
		if len(k.sessions) >= MaxKeyLogSessions {
			k.stats.Dropped++
			return
		}
		if k.sessions == nil {
			k.sessions = make(map[[32]byte]*Secrets)
		}
		s = &Secrets{}
		k.sessions[key] = s
		k.stats.Sessions++
	}
	switch string(label) {
	case "CLIENT_RANDOM":
		s.MasterSecret = sec
	case "CLIENT_HANDSHAKE_TRAFFIC_SECRET":
		s.ClientHandshake = sec
	case "SERVER_HANDSHAKE_TRAFFIC_SECRET":
		s.ServerHandshake = sec
	case "CLIENT_TRAFFIC_SECRET_0":
		s.ClientTraffic = sec
	case "SERVER_TRAFFIC_SECRET_0":
		s.ServerTraffic = sec
	default:
		return
	}
	k.stats.Lines++
}

// Secrets implements KeySource.
func (k *KeyLog) Secrets(clientRandom []byte) (Secrets, bool) {
	if len(clientRandom) != 32 {
		return Secrets{}, false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	s := k.sessions[[32]byte(clientRandom)]
	if s == nil {
		return Secrets{}, false
	}
	return *s, true
}

// Stats returns the counters so far.
func (k *KeyLog) Stats() KeyLogStats {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.stats
}
