package plugin

import (
	"github.com/wiretrace/wiretrace/protocols"
)

// Inspector shows every message to the plugins that inspect (wt_inspect),
// in order, and adds the link keys and attributes they return. It
// implements protocols.Inspector and is safe for concurrent use.
type Inspector struct {
	plugins []*Plugin
}

var _ protocols.Inspector = (*Inspector)(nil)

// NewInspector returns an Inspector of the plugins among ps that inspect,
// or nil when none does (so that a driver keeps no message bytes).
func NewInspector(ps ...*Plugin) *Inspector {
	var in Inspector
	for _, p := range ps {
		if p != nil && p.inspect {
			in.plugins = append(in.plugins, p)
		}
	}
	if len(in.plugins) == 0 {
		return nil
	}
	return &in
}

// Inspect implements protocols.Inspector. When a plugin fails on a message
// (trap, time limit, memory, bad output) the records it returned are
// dropped, the failure is counted, and Inspect returns false: the flow is
// not inspected any more, by any of the plugins.
func (i *Inspector) Inspect(f *protocols.Flow, dir protocols.Direction, raw []byte, m *protocols.Message) bool {
	ok := true
	for _, p := range i.plugins {
		if !p.inspectOne(f, dir, raw, m) {
			ok = false
		}
	}
	return ok
}

// inspectOne runs the plugin on one message; false means it failed.
func (p *Plugin) inspectOne(f *protocols.Flow, dir protocols.Direction, raw []byte, m *protocols.Message) bool {
	in := p.get()
	if in == nil {
		return !p.disabled.Load() // closed: nothing to count
	}
	var flags byte
	if m.Partial {
		flags |= 1
	}
	in.stage(f, dir, m.Kind, f.Datagram, flags, f.Protocol, m.Name, raw, p.cfg.MaxInput)
	v, err := p.call(in, in.inspect)
	if err != nil {
		p.flowsDisabled.Add(1)
		return false
	}
	out, err := in.output(v)
	if err == nil {
		nl, na := len(m.Links), len(m.Attrs)
		err = eachRecord(out, func(tag byte, k, v []byte) error { return addRecord(m, tag, k, v) })
		if err != nil {
			m.Links, m.Attrs = m.Links[:nl], m.Attrs[:na]
		}
	}
	if err != nil {
		p.fail(err, false)
		p.flowsDisabled.Add(1)
		p.put(in) // the instance is sound; its output was not
		return false
	}
	p.put(in)
	return true
}
