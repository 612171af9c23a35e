// Package tls provides the TLS parser: a [protocols.Protocol] descriptor
// whose per-connection [Parser] turns a TLS connection into handshake spans
// and, without keys, encrypted exchange spans; with keys (an NSS key log,
// [KeyLog]), it decrypts the records and hands the plaintext to an inner
// protocols.Parser (HTTP/1.x, HTTP/2, gRPC, ...) found through a registry.
//
// Spec version: TLS 1.2 (RFC 5246) and TLS 1.3 (RFC 8446); records of SSL
// 3.0 to TLS 1.1 are framed and their handshakes read, not decrypted.
// Attribute names follow the OpenTelemetry TLS conventions where they exist
// (tls.client.server_name, tls.next_protocol, tls.protocol.version,
// tls.cipher, tls.client.ja3, tls.server.ja3s, tls.server.subject,
// tls.server.issuer, tls.server.not_before, tls.server.not_after); see the
// Attr constants.
//
// # Handshake span
//
// The ClientHello is a request named "handshake <SNI>" ("handshake"
// without SNI) with the server name, the offered ALPN protocols, and the
// JA3 (https://github.com/salesforce/ja3) and JA4 (FoxIO,
// https://github.com/FoxIO-LLC/ja4, technical_details/JA4.md) fingerprints.
// Its response carries the negotiated version (supported_versions for TLS
// 1.3), the cipher suite name (crypto/tls.CipherSuiteName), the selected
// ALPN protocol (in TLS 1.3 only with keys: EncryptedExtensions is
// encrypted), JA3S, and the leaf certificate's subject, issuer and validity
// (read with crypto/x509; in the clear in TLS 1.2, with keys in TLS 1.3).
// The response ends at the server's Finished (TLS 1.2: its first encrypted
// handshake record; TLS 1.3 with keys: the decrypted Finished; TLS 1.3
// without keys: the server's last record before the client's next one), so
// the span lasts from ClientHello to the end of the server's handshake. A
// fatal alert during the handshake is the response, status error, with
// tls.alert and error.type set to the alert description; it is emitted in
// the direction that sent it. A fatal alert after the handshake is an
// unsolicited error span "alert <description>". Warnings (an
// unrecognized_name before the ServerHello), close_notify and
// user_canceled end nothing. A connection that ends before the handshake does is an
// error with error.type "handshake_incomplete". After a HelloRetryRequest
// the second ClientHello adds nothing.
//
// # Encrypted exchanges
//
// Without keys, application data is read from record framing and timing
// alone: each turn is an exchange, a request (the client's run of
// application_data records, emitted at its first record) and a response
// (the server's run, which ends when the client speaks again or the
// connection ends: the parser implements [protocols.Turner]). They are named
// "encrypted <SNI>", with tls.encrypted "true", and the response carries the
// records and bytes of both runs (tls.request.records, tls.request.size,
// tls.response.records, tls.response.size; sizes are record fragment
// bytes). Server records that answer no client run (TLS 1.3 session
// tickets) are not exchanges. TLS 1.3 records of 19 bytes (an encrypted
// alert) are skipped; HTTP/2's control frames make exchanges of their own.
// These spans let the linker parent a TLS-terminating gateway's plaintext
// upstream calls to its inbound TLS exchange by timing.
//
// # Decryption
//
// With Config.Keys and Config.Inner, the secrets of a session are looked up
// by the ClientHello's random when the first encrypted record arrives (and,
// if missing then, again at each encrypted record, up to 64 times: in a
// live capture the client may write its key log line after the packets
// are seen; the records that went by stay encrypted, the sequence numbers
// of the next ones follow from the records counted):
// CLIENT_RANDOM (the TLS 1.2 master secret, expanded with the TLS 1.2 PRF)
// or the four TLS 1.3 traffic secrets (expanded with HKDF-Expand-Label;
// KeyUpdate is followed, both ways). Decrypted suites: TLS 1.2 AES-128/256-GCM and
// ChaCha20-Poly1305 (RFC 5288, 5289, 7905) and AES-128/256-CBC with
// HMAC-SHA1/SHA256/SHA384 (RFC 5246, 5289; MAC-then-encrypt, or
// encrypt-then-MAC when the ServerHello accepts RFC 7366's extension), TLS
// 1.3 TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384 and
// TLS_CHACHA20_POLY1305_SHA256, with crypto/aes, crypto/cipher,
// crypto/hmac, golang.org/x/crypto/chacha20poly1305 and crypto/hkdf. CCM,
// 3DES and RC4 suites, TLS 1.0/1.1 records, 0-RTT data and compression are
// not decrypted. The
// plaintext goes to an inner parser chosen by ALPN ("h2": http2,
// "http/1.1": http) or by sniffing its first bytes (or, for a connection
// upgraded in band, made with NewUpgrade, the protocol that upgraded: a
// MySQL or PostgreSQL parser continuing after its SSLRequest; the TLS
// parser's own spans then name protocol "tls"), whose messages are
// emitted as they are, with their own protocol name, redaction and timing
// (a message starts at the record holding its first byte). Missing or
// incomplete secrets, an unsupported suite, a record that fails
// authentication, a gap, or plaintext no inner parser takes fall back to
// the keyless spans for the rest of the connection; [Counters] count each
// case. Secrets are never logged or shown ([Secrets.String] hides them).
//
// # Gaps and errors
//
// A gap makes the parser look for the next plausible record header (a
// known type, version 3.1 to 3.3, a length within MaxRecordLen and, when
// the bytes hold it, another header after it); the exchange in progress is
// marked Partial and decryption stops for the connection, since record
// sequence numbers are lost. Bytes that are not a record header otherwise,
// or a ClientHello or ServerHello that does not parse, stop the connection
// with a ParseError. Handshake messages are reassembled across records up
// to MaxHandshakeLen; decrypted plaintext waits for the inner parser up to
// MaxPlaintext.
//
// # Sniffing
//
// Sniff recognises a handshake record holding a ClientHello (ToServer) or a
// ServerHello (ToClient) of SSL 3.0 to TLS 1.2 record version; ports are
// only a hint (443, 8443, 9443, 6443, 465, 636, 993, 995, 853, 5671). Connections captured after their handshake are not
// recognised.
//
// # Concurrency and ownership
//
// A Parser serves one connection and is not safe for concurrent use; it
// does no I/O, starts no goroutines and never reads the clock. Counters and
// the KeySource may be shared (they are safe for concurrent use). Strings
// in a Message are freshly allocated and may be retained.
package tls
