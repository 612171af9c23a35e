package mysql

import (
	"bytes"
	"compress/zlib"
	"io"

	"github.com/wiretrace/wiretrace/protocols"
)

// frameSrc reads the payload of the compressed packet at the head of the
// data passed to Parse. The data may move between calls (the driver keeps
// the unconsumed bytes), so the payload is re-pointed at each call while
// the read offset persists.
type frameSrc struct {
	b   []byte
	off int
}

func (s *frameSrc) Read(p []byte) (int, error) {
	if s.off >= len(s.b) {
		return 0, io.EOF
	}
	n := copy(p, s.b[s.off:])
	s.off += n
	return n, nil
}

func (s *frameSrc) ReadByte() (byte, error) {
	if s.off >= len(s.b) {
		return 0, io.EOF
	}
	s.off++
	return s.b[s.off-1], nil
}

// inflater turns one direction's compressed packets (protocol page
// "Compression") back into the plain packet stream.
type inflater struct {
	src    frameSrc
	zr     io.ReadCloser
	buf    []byte // decompressed bytes
	off    int    // of buf, consumed by parsePlain
	frame  int    // raw length of the compressed packet being decompressed; 0 when none
	left   int    // its decompressed bytes still to produce
	stored bool   // its payload is not compressed (uncompressed length 0)
}

// compress switches both directions to the compressed protocol.
func (p *Parser) compress() {
	for i := range p.halves {
		if p.halves[i].z == nil {
			p.halves[i].z = &inflater{}
		}
	}
}

// parseCompressed reads compressed packets and parses the packets they
// carry. A packet is consumed only when everything decompressed from it has
// been parsed, so that messages it completes are emitted (with n == 0)
// while the driver still has its bytes to offer.
func (p *Parser) parseCompressed(dir protocols.Direction, h *half, data []byte, msg *protocols.Message) (int, bool, error) {
	z := h.z
	for {
		if z.off < len(z.buf) {
			n, done, err := p.parsePlain(dir, h, z.buf[z.off:], msg)
			if err != nil {
				return 0, false, err
			}
			z.off += n
			if done {
				return 0, true, nil
			}
			if h.quiet {
				z.buf, z.off, z.frame = nil, 0, 0
				return len(data), false, nil
			}
		}
		if z.off > 0 {
			z.buf = z.buf[:copy(z.buf, z.buf[z.off:])]
			z.off = 0
		}
		if z.frame > 0 {
			if z.left > 0 {
				if !z.inflate(data[7:z.frame]) {
					return 0, false, parseErr(0, ErrCompressed)
				}
				continue
			}
			n := z.frame
			z.frame = 0
			return n, false, nil
		}
		if len(data) < 7 {
			return 0, false, nil
		}
		clen, ulen := le24(data), le24(data[4:])
		if clen > MaxFrame {
			h.quiet = true
			z.buf, z.off = nil, 0
			return len(data), false, nil
		}
		if len(data) < 7+clen {
			return 0, false, nil
		}
		z.frame, z.src = 7+clen, frameSrc{b: data[7 : 7+clen]}
		z.stored, z.left = ulen == 0, ulen
		if z.stored {
			z.left = clen
			continue
		}
		var err error
		if z.zr == nil {
			z.zr, err = zlib.NewReader(&z.src)
		} else {
			err = z.zr.(zlib.Resetter).Reset(&z.src, nil)
		}
		if err != nil {
			return 0, false, parseErr(7, ErrCompressed)
		}
	}
}

// inflate appends at most inflateChunk decompressed bytes of the current
// compressed packet, whose payload is src, to buf.
func (z *inflater) inflate(src []byte) bool {
	z.src.b = src
	n := min(z.left, inflateChunk)
	start := len(z.buf)
	if cap(z.buf)-start < n {
		nb := make([]byte, start, start+max(n, inflateChunk)+respHead)
		copy(nb, z.buf)
		z.buf = nb
	}
	z.buf = z.buf[:start+n]
	dst := z.buf[start:]
	if z.stored {
		if len(src)-z.src.off < n {
			return false
		}
		copy(dst, src[z.src.off:])
		z.src.off += n
	} else if _, err := io.ReadFull(z.zr, dst); err != nil {
		return false
	}
	z.left -= n
	return true
}

// looksCompressed decides whether the first bytes of a connection seen
// mid-stream are a compressed packet: an uncompressed payload made of whole
// packets, or a zlib stream that decompresses. decided is false while more
// bytes are needed.
func looksCompressed(b []byte) (compressed, decided bool) {
	if len(b) < 7 {
		return false, false
	}
	clen, ulen := le24(b), le24(b[4:])
	if clen < 4 || clen > MaxFrame {
		return false, true
	}
	if len(b) < 7+clen {
		// Undecided until the bytes would make a whole plain packet; a
		// compressed packet is sent whole, so it is not 3 bytes short then.
		return false, len(b) >= 4+clen
	}
	body := b[7 : 7+clen]
	if ulen == 0 {
		for len(body) >= 4 {
			l := le24(body)
			if 4+l > len(body) {
				return false, true
			}
			body = body[4+l:]
		}
		return len(body) == 0, true
	}
	if ulen < 4 || body[0]&0x0f != 8 || (uint(body[0])<<8|uint(body[1]))%31 != 0 {
		return false, true
	}
	zr, err := zlib.NewReader(bytes.NewReader(body))
	if err != nil {
		return false, true
	}
	var head [4]byte
	_, err = io.ReadFull(zr, head[:])
	return err == nil, true
}
