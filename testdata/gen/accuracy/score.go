package main

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// exKey identifies an exchange on the wire: the connection's two ends and
// the request's index on it.
type exKey struct {
	client, server string
	idx            int
}

// exchange is one logged exchange with its true parent.
type exchange struct {
	key    exKey
	parent *exchange // nil for a root (a client's request to the gateway) or set-up
	root   *exchange
	keyed  bool // the parent's request id is on the wire with this exchange
	ff     bool // fire-and-forget
	setup  bool
	proto  string
	name   string
	views  []*span
}

// span is the part of wiretrace's JSONL output the scorer reads.
type span struct {
	SpanID     string `json:"span_id"`
	ParentID   string `json:"parent_span_id"`
	Protocol   string `json:"protocol"`
	Name       string `json:"name"`
	StartNS    int64  `json:"start_ns"`
	EndNS      int64  `json:"end_ns"`
	Capture    string `json:"capture"`
	LinkReason string `json:"link_reason"`
	Client     struct {
		IP   string `json:"ip"`
		Port int    `json:"port"`
	} `json:"client"`
	Server struct {
		IP   string `json:"ip"`
		Port int    `json:"port"`
	} `json:"server"`
	Links      map[string]any `json:"links"`
	Attributes map[string]any `json:"attributes"`

	ex       *exchange
	parent   *span
	baseline *span
}

func (s *span) clientAddr() string { return net.JoinHostPort(s.Client.IP, strconv.Itoa(s.Client.Port)) }
func (s *span) serverAddr() string { return net.JoinHostPort(s.Server.IP, strconv.Itoa(s.Server.Port)) }
func (s *span) seq() float64 {
	f, _ := s.Links["req_tcp_seq"].(float64)
	if f == 0 {
		if str, ok := s.Links["req_tcp_seq"].(string); ok {
			f, _ = strconv.ParseFloat(str, 64)
		}
	}
	return f
}

// result is the score of one run.
type result struct {
	label                 string
	spans, unmapped       int
	exchanges, uncaptured int
	// precision: per link reason, correct and total predicted edges.
	prec map[string][2]int
	// recall: per truth category, hits and total truth edges.
	rec, baseRec              map[string][2]int
	basePrec                  [2]int
	traces, traceOK, traceOK2 int
	baseOK, baseOK2           int
}

func scoreMain(args []string) error {
	fs := flag.NewFlagSet("score", flag.ContinueOnError)
	wt := fs.String("wiretrace", "bin/wiretrace", "wiretrace binary")
	verbose := fs.Bool("v", false, "list wrong edges")
	minRecall := fs.Float64("min-wire-recall", 0, "fail unless wire-link recall of every run is at least this")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("score: want run directories")
	}
	var results []*result
	for _, dir := range fs.Args() {
		r, err := scoreRun(*wt, dir, *verbose)
		if err != nil {
			return fmt.Errorf("score %s: %w", dir, err)
		}
		results = append(results, r)
	}
	printTable(os.Stdout, results)
	for _, r := range results {
		if c := r.rec["wire"]; ratio(c) < *minRecall {
			return fmt.Errorf("score %s: wire-link recall %.3f < %.3f", r.label, ratio(c), *minRecall)
		}
	}
	return nil
}

func readLines(path string, f func([]byte) error) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	for i, line := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if err := f(line); err != nil {
			return fmt.Errorf("%s:%d: %w", path, i+1, err)
		}
	}
	return nil
}

func scoreRun(wt, dir string, verbose bool) (*result, error) {
	label, _ := os.ReadFile(filepath.Join(dir, "label"))
	res := &result{label: strings.TrimSpace(string(label)), prec: map[string][2]int{}, rec: map[string][2]int{}, baseRec: map[string][2]int{}}
	if res.label == "" {
		res.label = filepath.Base(dir)
	}
	ex := map[exKey]*exchange{}
	add := func(k exKey) *exchange {
		if e := ex[k]; e != nil {
			return e
		}
		e := &exchange{key: k}
		ex[k] = e
		return e
	}
	// The gateway's log: request_id client server connection_requests.
	byRID := map[string]*exchange{}
	err := readLines(filepath.Join(dir, "nginx.log"), func(line []byte) error {
		f := strings.Fields(string(line))
		if len(f) < 4 {
			return fmt.Errorf("short line")
		}
		n, err := strconv.Atoi(f[3])
		if err != nil {
			return err
		}
		e := add(exKey{f[1], f[2], n - 1})
		e.proto, e.name, e.root = "http", "gateway", e
		byRID[f[0]] = e
		return nil
	})
	if err != nil {
		return nil, err
	}
	var recs []*record
	for _, svc := range []string{"a", "b"} {
		err := readLines(filepath.Join(dir, svc+".log"), func(line []byte) error {
			r := &record{}
			if err := json.Unmarshal(line, r); err != nil {
				return err
			}
			recs = append(recs, r)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	byID := map[string]*exchange{}
	for _, r := range recs {
		e := add(exKey{r.Client, r.Server, r.Idx})
		byID[r.ID] = e
		if e.proto == "" {
			e.proto, e.name = r.Proto, r.Name
		}
	}
	for _, r := range recs {
		e := byID[r.ID]
		switch {
		case r.Setup:
			e.setup = true
		case r.Dir == "in" && r.Svc == "a":
			e.parent, e.keyed = byRID[r.RID], true
		case r.Dir == "out":
			e.parent, e.keyed, e.ff = byID[r.Parent], r.Keyed, r.FF
		}
	}
	var rootOf func(e *exchange, depth int) *exchange
	rootOf = func(e *exchange, depth int) *exchange {
		if e.root != nil || depth > 32 {
			return e.root
		}
		if e.parent != nil {
			e.root = rootOf(e.parent, depth+1)
		}
		return e.root
	}
	for _, e := range ex {
		rootOf(e, 0)
	}

	// Replay the captures.
	pcaps, _ := filepath.Glob(filepath.Join(dir, "*.pcap"))
	cmd := exec.Command(wt, append([]string{"replay", "--format", "jsonl"}, pcaps...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", wt, err)
	}
	var spans []*span
	byID2 := map[string]*span{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		s := &span{}
		if err := dec.Decode(s); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("wiretrace output: %w", err)
		}
		spans = append(spans, s)
		byID2[s.SpanID] = s
	}
	res.spans = len(spans)
	// Index on the connection, per capture point.
	type conn struct{ capture, client, server string }
	byConn := map[conn][]*span{}
	for _, s := range spans {
		c := conn{s.Capture, s.clientAddr(), s.serverAddr()}
		byConn[c] = append(byConn[c], s)
	}
	for c, list := range byConn {
		slices.SortStableFunc(list, func(a, b *span) int {
			return cmp.Or(cmp.Compare(a.StartNS, b.StartNS), cmp.Compare(a.seq(), b.seq()))
		})
		for i, s := range list {
			if e := ex[exKey{c.client, c.server, i}]; e != nil {
				s.ex = e
				e.views = append(e.views, s)
			} else {
				res.unmapped++
			}
		}
	}
	for _, s := range spans {
		if s.ParentID != "" {
			s.parent = byID2[s.ParentID]
		}
	}
	baseline(spans)

	// Precision of wiretrace's edges, by link reason.
	wrong := func(s *span, p *span) bool {
		return p != nil && (p.ex == nil || p.ex != s.ex && p.ex != s.ex.parent)
	}
	for _, s := range spans {
		if s.ex == nil || s.parent == nil {
			continue
		}
		reason := s.LinkReason
		if s.parent.ex == s.ex {
			reason += " (same exchange)"
		}
		c := res.prec[reason]
		c[1]++
		if !wrong(s, s.parent) {
			c[0]++
		} else if verbose {
			fmt.Fprintf(os.Stderr, "%s: wrong %s parent: %s %s %s->%s (%s) -> %s %s->%s (truth %s)\n", res.label, s.LinkReason,
				s.Capture, s.Name, s.clientAddr(), s.serverAddr(), category(s.ex), s.parent.Name, s.parent.clientAddr(), s.parent.serverAddr(), exName(s.ex.parent))
		}
		res.prec[reason] = c
		if conf, ok := s.Attributes["wiretrace.link.confidence"].(float64); ok && conf >= 0.8 {
			c := res.prec["timing, confidence >= 0.8"]
			c[1]++
			if !wrong(s, s.parent) {
				c[0]++
			}
			res.prec["timing, confidence >= 0.8"] = c
		}
	}
	for _, s := range spans {
		if s.ex == nil || s.baseline == nil {
			continue
		}
		res.basePrec[1]++
		if !wrong(s, s.baseline) {
			res.basePrec[0]++
		}
	}
	// Recall by truth category, and traces.
	okEdge := func(e *exchange, par func(*span) *span) bool {
		for _, v := range e.views {
			if p := par(v); p != nil && p.ex == e.parent {
				return true
			}
		}
		return false
	}
	noWrong := func(e *exchange, par func(*span) *span) bool {
		for _, v := range e.views {
			if wrong(v, par(v)) {
				return false
			}
		}
		return true
	}
	wtPar := func(s *span) *span { return s.parent }
	basePar := func(s *span) *span { return s.baseline }
	type tstate struct{ ok, ok2, bok, bok2 bool }
	traces := map[*exchange]*tstate{}
	for _, e := range ex {
		if e.root == nil || e.setup {
			continue
		}
		t := traces[e.root]
		if t == nil {
			t = &tstate{true, true, true, true}
			traces[e.root] = t
		}
		res.exchanges++
		if len(e.views) == 0 {
			res.uncaptured++
			t.ok, t.ok2, t.bok, t.bok2 = false, false, false, false
			continue
		}
		good, bgood := noWrong(e, wtPar), noWrong(e, basePar)
		if e.parent != nil {
			cat := category(e)
			hit, bhit := okEdge(e, wtPar), okEdge(e, basePar)
			c, b := res.rec[cat], res.baseRec[cat]
			c[1]++
			b[1]++
			if hit {
				c[0]++
			} else if verbose {
				fmt.Fprintf(os.Stderr, "%s: missed %s edge: %s %s->%s idx %d (parent %s)\n", res.label, cat, e.name, e.key.client, e.key.server, e.key.idx, exName(e.parent))
			}
			if bhit {
				b[0]++
			}
			res.rec[cat], res.baseRec[cat] = c, b
			good, bgood = good && hit, bgood && bhit
		}
		if !good {
			t.ok = false
			if !e.ff {
				t.ok2 = false
			}
		}
		if !bgood {
			t.bok = false
			if !e.ff {
				t.bok2 = false
			}
		}
	}
	for _, t := range traces {
		res.traces++
		res.traceOK += b2i(t.ok)
		res.traceOK2 += b2i(t.ok2)
		res.baseOK += b2i(t.bok)
		res.baseOK2 += b2i(t.bok2)
	}
	// "wire" and "timing only" totals.
	for _, cat := range []string{"wire", "timing only"} {
		for k, v := range res.rec {
			if strings.HasPrefix(k, cat+":") {
				c := res.rec[cat]
				c[0] += v[0]
				c[1] += v[1]
				res.rec[cat] = c
				b := res.baseRec[cat]
				b[0] += res.baseRec[k][0]
				b[1] += res.baseRec[k][1]
				res.baseRec[cat] = b
			}
		}
	}
	return res, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func exName(e *exchange) string {
	if e == nil {
		return "none"
	}
	return fmt.Sprintf("%s %s->%s idx %d", e.name, e.key.client, e.key.server, e.key.idx)
}

// category is the kind of a true edge: whether a key on the wire can link
// it, by protocol, and fire-and-forget calls apart.
func category(e *exchange) string {
	kind := "timing only"
	if e.keyed {
		kind = "wire"
	}
	what := e.proto
	if e.ff {
		what = "fire-and-forget " + what
	}
	return kind + ": " + what
}

// baseline gives each span the nearest enclosing inbound span of its
// client host at the same capture point (the latest to start).
func baseline(spans []*span) {
	type hk struct{ capture, host string }
	inbound := map[hk][]*span{}
	for _, p := range spans {
		k := hk{p.Capture, p.Server.IP}
		inbound[k] = append(inbound[k], p)
	}
	for _, s := range spans {
		var best *span
		for _, p := range inbound[hk{s.Capture, s.Client.IP}] {
			if p == s || p.StartNS > s.StartNS || p.EndNS < s.EndNS {
				continue
			}
			if best == nil || p.StartNS > best.StartNS {
				best = p
			}
		}
		s.baseline = best
	}
}

func ratio(c [2]int) float64 {
	if c[1] == 0 {
		return 1
	}
	return float64(c[0]) / float64(c[1])
}

func cell(c [2]int) string {
	if c[1] == 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f (%d/%d)", ratio(c), c[0], c[1])
}

func printTable(w io.Writer, rs []*result) {
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	row := func(name string, f func(r *result) string) {
		fmt.Fprintf(bw, "| %-44s |", name)
		for _, r := range rs {
			fmt.Fprintf(bw, " %-22s |", f(r))
		}
		fmt.Fprintln(bw)
	}
	row("", func(r *result) string { return r.label })
	fmt.Fprintf(bw, "|%s|", strings.Repeat("-", 46))
	for range rs {
		fmt.Fprintf(bw, "%s|", strings.Repeat("-", 24))
	}
	fmt.Fprintln(bw)
	row("spans (unmapped)", func(r *result) string { return fmt.Sprintf("%d (%d)", r.spans, r.unmapped) })
	row("logged exchanges (not in capture)", func(r *result) string { return fmt.Sprintf("%d (%d)", r.exchanges, r.uncaptured) })
	keys := map[string]bool{}
	for _, r := range rs {
		for k := range r.prec {
			keys[k] = true
		}
	}
	sorted := slices.Sorted(func(yield func(string) bool) {
		for k := range keys {
			if !yield(k) {
				return
			}
		}
	})
	wire := func(r *result) [2]int {
		var t [2]int
		for k, v := range r.prec {
			if !strings.HasPrefix(k, "timing") {
				t[0] += v[0]
				t[1] += v[1]
			}
		}
		return t
	}
	row("precision, wire links (all)", func(r *result) string { return cell(wire(r)) })
	for _, k := range sorted {
		if !strings.HasPrefix(k, "timing") {
			row("  precision, "+k, func(r *result) string { return cell(r.prec[k]) })
		}
	}
	row("precision, timing links", func(r *result) string { return cell(r.prec["timing"]) })
	row("  precision, timing, confidence >= 0.8", func(r *result) string { return cell(r.prec["timing, confidence >= 0.8"]) })
	row("precision, baseline (enclosing inbound)", func(r *result) string { return cell(r.basePrec) })
	cats := map[string]bool{}
	for _, r := range rs {
		for k := range r.rec {
			cats[k] = true
		}
	}
	csorted := slices.Sorted(func(yield func(string) bool) {
		for k := range cats {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range csorted {
		name := "recall, " + k
		if strings.Contains(k, ":") {
			name = "  recall, " + k
		}
		row(name, func(r *result) string { return cell(r.rec[k]) })
		row(name+" [baseline]", func(r *result) string { return cell(r.baseRec[k]) })
	}
	row("traces fully correct", func(r *result) string { return cell([2]int{r.traceOK, r.traces}) })
	row("traces fully correct [baseline]", func(r *result) string { return cell([2]int{r.baseOK, r.traces}) })
	row("traces correct but fire-and-forget", func(r *result) string { return cell([2]int{r.traceOK2, r.traces}) })
	row("traces correct but fire-and-forget [baseline]", func(r *result) string { return cell([2]int{r.baseOK2, r.traces}) })
}
