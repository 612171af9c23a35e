package plugin

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/wiretrace/wiretrace/protocols"
)

// ErrFailed is wrapped by the parse errors of a flow whose plugin call
// failed (trap, time limit, memory) or that the plugin can no longer serve
// (disabled, closed).
var ErrFailed = errors.New("plugin call failed")

// newProtocol builds the protocol descriptor of a parsing plugin from its
// wt_info records.
func (p *Plugin) newProtocol(info map[string]string) (*protocols.Protocol, error) {
	name := info["protocol"]
	if !validName(name) {
		return nil, fmt.Errorf("%w: wt_info: protocol %q: want 1 to 64 letters, digits, '_' or '-'", ErrABI, name)
	}
	pr := &protocols.Protocol{
		Name:    name,
		Summary: "WebAssembly plugin " + p.name + " (" + p.file + ")",
		IDLink:  info["id_link"],
		Sniff:   p.sniffTCP,
		New:     func(*protocols.Config) protocols.Parser { return &parser{p: p, name: name} },
	}
	if ports := info["ports"]; ports != "" {
		for _, f := range strings.Split(ports, ",") {
			n, err := strconv.ParseUint(strings.TrimSpace(f), 10, 16)
			if err != nil || n == 0 {
				return nil, fmt.Errorf("%w: wt_info: ports %q: want comma-separated port numbers", ErrABI, ports)
			}
			pr.Ports = append(pr.Ports, uint16(n))
		}
	}
	return pr, nil
}

// sniffTCP calls wt_sniff; a failed call says "not this protocol".
func (p *Plugin) sniffTCP(data []byte) protocols.Direction {
	in := p.get()
	if in == nil {
		return protocols.DirUnknown
	}
	in.stage(nil, protocols.DirUnknown, protocols.KindUnknown, false, 0, p.proto.Name, "", data, p.cfg.MaxInput)
	v, err := p.call(in, in.sniff)
	if err != nil {
		return protocols.DirUnknown
	}
	p.put(in)
	switch int32(v) {
	case 0:
		return protocols.DirUnknown
	case 1:
		return protocols.ToServer
	case 2:
		return protocols.ToClient
	}
	p.fail(fmt.Errorf("%w: wt_sniff returned %d", ErrABI, int32(v)), false)
	return protocols.DirUnknown
}

var _ protocols.FlowReceiver = (*parser)(nil)

// parser is a protocols.Parser backed by wt_parse. It keeps no message
// state: the driver keeps the unconsumed bytes and offers them again.
type parser struct {
	p    *Plugin
	name string
	flow *protocols.Flow // nil until SetFlow
	gap  [3]bool         // bytes were lost before the next bytes of a direction
	last string          // the last operation name, reused to spare allocations
}

// Parse implements protocols.Parser.
func (ps *parser) Parse(dir protocols.Direction, data []byte, msg *protocols.Message) (int, bool, error) {
	p := ps.p
	in := p.get()
	if in == nil {
		return 0, false, &protocols.ParseError{Protocol: ps.name, Err: fmt.Errorf("%w: %s is disabled", ErrFailed, p.name)}
	}
	var flags byte
	if ps.gap[dir%3] {
		flags |= 2
	}
	in.stage(ps.flow, dir, protocols.KindUnknown, false, flags, ps.name, "", data, p.cfg.MaxInput)
	limit := min(len(data), p.cfg.MaxInput)
	v, err := p.call(in, in.parse)
	if err != nil {
		p.flowsDisabled.Add(1)
		return 0, false, &protocols.ParseError{Protocol: ps.name, Err: fmt.Errorf("%w: %w", ErrFailed, err)}
	}
	out, err := in.output(v)
	consumed, done := -1, false
	var malformed []byte
	if err == nil {
		err = eachRecord(out, func(tag byte, k, v []byte) error {
			if tag != 'M' {
				return addRecord(msg, tag, k, v)
			}
			switch string(k) {
			case "consumed":
				n, err := strconv.Atoi(string(v))
				if err != nil || n < 0 || n > limit {
					return fmt.Errorf("%w: consumed %q of %d bytes", ErrABI, v, limit)
				}
				consumed = n
			case "kind":
				switch string(v) {
				case "request":
					msg.Kind = protocols.Request
				case "response":
					msg.Kind = protocols.Response
				default:
					return fmt.Errorf("%w: kind %q", ErrABI, v)
				}
				done = true
			case "name":
				if string(v) != ps.last {
					ps.last = string(v)
				}
				msg.Name = ps.last
			case "id":
				id, err := strconv.ParseUint(string(v), 10, 64)
				if err != nil {
					return fmt.Errorf("%w: id %q", ErrABI, v)
				}
				msg.ID, msg.HasID = id, true
			case "status":
				switch string(v) {
				case "ok":
					msg.Status = protocols.StatusOK
				case "error":
					msg.Status = protocols.StatusError
				}
			case "no_response":
				msg.NoResponse = string(v) == "1"
			case "error":
				malformed = v
			}
			return nil
		})
	}
	if err == nil && malformed == nil && (consumed < 0 || done && consumed == 0) {
		err = fmt.Errorf("%w: wt_parse gave no consumed count, or a message of 0 bytes", ErrABI)
	}
	p.put(in)
	if err != nil {
		p.fail(err, false)
		p.flowsDisabled.Add(1)
		return 0, false, &protocols.ParseError{Protocol: ps.name, Err: err}
	}
	if malformed != nil {
		return 0, false, &protocols.ParseError{Protocol: ps.name, Err: fmt.Errorf("%w: %s", protocols.ErrMalformed, malformed)}
	}
	if consumed > 0 {
		ps.gap[dir%3] = false
	}
	if done && flags&2 != 0 {
		msg.Partial = true
	}
	return consumed, done, nil
}

// SetFlow implements protocols.FlowReceiver: wt_parse gets the flow's
// addresses, ports and id.
func (ps *parser) SetFlow(f *protocols.Flow) { ps.flow = f }

// Gap implements protocols.Parser: the plugin is told (flags bit 1) on
// the next call, and may look for the next message boundary.
func (ps *parser) Gap(dir protocols.Direction, _ int) { ps.gap[dir%3] = true }

// End implements protocols.Parser; messages end with their bytes.
func (ps *parser) End(protocols.Direction, *protocols.Message) bool { return false }
