package capture

import (
	"errors"
	"io"
)

// Merge returns a Source that yields the packets of all sources in
// timestamp order; packets with equal timestamps come in the order of the
// sources in the argument list. Each packet keeps the Capture, Interface and
// Number its source gave it.
//
// Merge holds one pending packet per source and reads a source again only
// when the caller asks for the packet after the one it took from that
// source, so no packet data is copied: a packet's Data stays valid until the
// next ReadPacket call on the merge, as for any Source.
//
// When a source returns an error other than io.EOF, ReadPacket returns that
// error unchanged (it already names the source) and drops the source from
// the merge. The caller may report it and keep calling ReadPacket to get the
// packets of the other sources; io.EOF means every source is finished or
// dropped. Because the merge reads one packet ahead in each source, the
// error may come before packets of other sources that are older than the
// damage. The merge does not reorder packets within a source: a source
// whose timestamps go backwards yields them as they come.
//
// Close closes every source and joins their errors.
func Merge(sources ...Source) Source {
	m := &merge{
		srcs:   make([]mergeSource, len(sources)),
		refill: make([]int, 0, len(sources)),
		heap:   make([]int, 0, len(sources)),
	}
	for i, s := range sources {
		m.srcs[i].src = s
		m.refill = append(m.refill, i)
	}
	// Read the first source first: refill is consumed from the end.
	for i, j := 0, len(m.refill)-1; i < j; i, j = i+1, j-1 {
		m.refill[i], m.refill[j] = m.refill[j], m.refill[i]
	}
	return m
}

type mergeSource struct {
	src Source
	p   Packet // pending packet, valid while the index is in heap
}

type merge struct {
	srcs   []mergeSource
	refill []int // sources to read before the next packet can be chosen
	heap   []int // sources with a pending packet, min-heap by (Timestamp, index)
	closed bool
}

// ReadPacket fills p with the earliest pending packet.
func (m *merge) ReadPacket(p *Packet) error {
	for len(m.refill) > 0 {
		i := m.refill[len(m.refill)-1]
		m.refill = m.refill[:len(m.refill)-1]
		s := &m.srcs[i]
		if err := s.src.ReadPacket(&s.p); err != nil {
			if err == io.EOF {
				continue
			}
			return err
		}
		m.push(i)
	}
	if len(m.heap) == 0 {
		return io.EOF
	}
	i := m.pop()
	*p = m.srcs[i].p
	m.refill = append(m.refill, i)
	return nil
}

// Close closes every source.
func (m *merge) Close() error {
	if m.closed {
		return nil
	}
	m.closed = true
	var errs []error
	for i := range m.srcs {
		if err := m.srcs[i].src.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (m *merge) less(a, b int) bool {
	ta, tb := m.srcs[a].p.Timestamp, m.srcs[b].p.Timestamp
	return ta < tb || ta == tb && a < b
}

func (m *merge) push(i int) {
	h := append(m.heap, i)
	for c := len(h) - 1; c > 0; {
		parent := (c - 1) / 2
		if !m.less(h[c], h[parent]) {
			break
		}
		h[c], h[parent] = h[parent], h[c]
		c = parent
	}
	m.heap = h
}

func (m *merge) pop() int {
	h := m.heap
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	for c := 0; ; {
		l, r, min := 2*c+1, 2*c+2, c
		if l < len(h) && m.less(h[l], h[min]) {
			min = l
		}
		if r < len(h) && m.less(h[r], h[min]) {
			min = r
		}
		if min == c {
			break
		}
		h[c], h[min] = h[min], h[c]
		c = min
	}
	m.heap = h
	return top
}
