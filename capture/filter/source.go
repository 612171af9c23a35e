package filter

import "github.com/wiretrace/wiretrace/capture"

// Source passes on the packets of another Source that its Filter accepts.
// Packets of a link type the expression cannot apply to (vlan on a cooked
// capture, say) are dropped and counted as Unfilterable.
type Source struct {
	src  capture.Source
	f    *Filter
	plan *LivePlan // pass what the kernel filtered exactly
	// Rejected counts packets the filter did not accept.
	Rejected uint64
	// Unfilterable counts packets whose link type the filter cannot test.
	Unfilterable uint64
}

var _ capture.Source = (*Source)(nil)

// NewSource returns a Source that filters src with f.
func NewSource(src capture.Source, f *Filter) *Source { return &Source{src: src, f: f} }

// ReadPacket returns the next accepted packet, or the source's error.
func (s *Source) ReadPacket(p *capture.Packet) error {
	for {
		if err := s.src.ReadPacket(p); err != nil {
			return err
		}
		if s.plan != nil && s.plan.filtered(p) {
			return nil
		}
		ok, err := s.f.MatchPacket(p)
		switch {
		case err != nil:
			s.Unfilterable++
		case ok:
			return nil
		default:
			s.Rejected++
		}
	}
}

// Close closes the underlying source.
func (s *Source) Close() error { return s.src.Close() }

// Each calls fn for each counter, in a fixed order.
func (s *Source) Each(fn func(name string, v uint64)) {
	fn("filter_rejected", s.Rejected)
	fn("filter_unfilterable", s.Unfilterable)
}
