package main

import (
	"bufio"
	"bytes"
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

// natsSpan is the part of a JSONL span the NATS scorer reads.
type natsSpan struct {
	SpanID     string            `json:"span_id"`
	ParentID   string            `json:"parent_span_id"`
	Protocol   string            `json:"protocol"`
	Name       string            `json:"name"`
	StartNS    int64             `json:"start_ns"`
	LinkReason string            `json:"link_reason"`
	Links      map[string]string `json:"links"`
	Client     struct {
		IP   string `json:"ip"`
		Port int    `json:"port"`
	} `json:"client"`
	Server struct {
		IP   string `json:"ip"`
		Port int    `json:"port"`
	} `json:"server"`
}

// natsEdge kinds, in the order the table shows them.
var natsEdgeKinds = []string{
	"http-in > pub (traceparent)", "http-in > pub (timing only)", "pub > deliver",
	"deliver > http-out", "deliver > reply", "reply > reply-deliver",
}

func natsEdgeKind(child, parent *natsRecord) string {
	switch child.Kind {
	case "pub":
		if child.Keyed {
			return natsEdgeKinds[0]
		}
		return natsEdgeKinds[1]
	case "deliver":
		return natsEdgeKinds[2]
	case "http-out":
		return natsEdgeKinds[3]
	case "reply":
		return natsEdgeKinds[4]
	}
	return natsEdgeKinds[5]
}

type natsResult struct {
	label             string
	spans, mapped     int
	records, captured int
	rec               map[string][2]int // per edge kind: hits, total
	prec              map[string][2]int // per link reason: correct, total
	traces, tracesOK  int
	wrong             []string
}

// natsScoreMain replays each run's capture and scores its parent edges
// against the services' logs.
func natsScoreMain(args []string) error {
	fs := flag.NewFlagSet("natsscore", flag.ContinueOnError)
	wt := fs.String("wiretrace", "bin/wiretrace", "wiretrace binary")
	verbose := fs.Bool("v", false, "list wrong edges")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var results []*natsResult
	for _, dir := range fs.Args() {
		r, err := natsScoreRun(*wt, dir)
		if err != nil {
			return fmt.Errorf("natsscore %s: %w", dir, err)
		}
		results = append(results, r)
	}
	printNATSTable(os.Stdout, results, *verbose)
	return nil
}

func readNATSLogs(dir string) ([]*natsRecord, error) {
	var recs []*natsRecord
	for _, name := range []string{"p.log", "c.log"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var r natsRecord
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				f.Close()
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			recs = append(recs, &r)
		}
		f.Close()
	}
	return recs, nil
}

func natsScoreRun(wt, dir string) (*natsResult, error) {
	label, _ := os.ReadFile(filepath.Join(dir, "label"))
	res := &natsResult{label: strings.TrimSpace(string(label)), rec: map[string][2]int{}, prec: map[string][2]int{}}
	recs, err := readNATSLogs(dir)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(wt, "replay", "-q", "--format", "jsonl", filepath.Join(dir, "capture.pcap"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %w", wt, err)
	}
	var spans []*natsSpan
	dec := json.NewDecoder(&out)
	for {
		var s natsSpan
		if err := dec.Decode(&s); err == io.EOF {
			break
		} else if err != nil {
			return nil, err
		}
		spans = append(spans, &s)
	}
	res.spans = len(spans)

	// Map spans to records: HTTP by connection and index, NATS by the
	// hand-off link (subject and payload digest) and the client host.
	slices.SortStableFunc(spans, func(a, b *natsSpan) int { return int(a.StartNS - b.StartNS) })
	httpIdx := map[string]int{}
	bySpanKey := map[string]*natsSpan{}
	for _, s := range spans {
		c := net.JoinHostPort(s.Client.IP, strconv.Itoa(s.Client.Port))
		sv := net.JoinHostPort(s.Server.IP, strconv.Itoa(s.Server.Port))
		switch s.Protocol {
		case "http":
			k := c + ">" + sv
			bySpanKey["http "+k+" "+strconv.Itoa(httpIdx[k])] = s
			httpIdx[k]++
		case "nats":
			if v := s.Links["handoff_send"]; strings.HasPrefix(s.Name, "PUB ") && strings.HasPrefix(v, "nats:") {
				bySpanKey["pub "+s.Client.IP+" "+v] = s
			}
			if v := s.Links["handoff_recv"]; strings.HasPrefix(s.Name, "MSG ") && strings.HasPrefix(v, "nats:") {
				bySpanKey["msg "+s.Client.IP+" "+v] = s
			}
		}
	}
	spanOf := map[*natsRecord]*natsSpan{}
	recOf := map[*natsSpan]*natsRecord{}
	byID := map[string]*natsRecord{}
	byLink := map[string]*natsRecord{} // pub and reply records by link
	for _, r := range recs {
		byID[r.ID] = r
		var k string
		switch r.Kind {
		case "http-in", "http-out":
			k = "http " + r.Client + ">" + r.Server + " " + strconv.Itoa(r.Idx)
		case "pub", "reply":
			k = "pub " + r.Host + " " + r.Link
			byLink[r.Link] = r
		case "deliver", "reply-deliver":
			k = "msg " + r.Host + " " + r.Link
		}
		res.records++
		if s := bySpanKey[k]; s != nil {
			spanOf[r], recOf[s] = s, r
			res.captured++
		}
	}
	res.mapped = len(recOf)
	spanByID := map[string]*natsSpan{}
	for _, s := range spans {
		spanByID[s.SpanID] = s
	}
	// The true parent of each record.
	parent := func(r *natsRecord) *natsRecord {
		switch r.Kind {
		case "deliver", "reply-deliver":
			return byLink[r.Link]
		case "http-in":
			return nil
		}
		return byID[r.Parent]
	}
	// The inbound request each record belongs to.
	root := func(r *natsRecord) *natsRecord {
		for i := 0; r != nil && i < 16; i++ {
			p := parent(r)
			if p == nil {
				return r
			}
			r = p
		}
		return nil
	}
	treeOK := map[*natsRecord]bool{}
	for _, r := range recs {
		if r.Kind == "http-in" && r.Svc == "pub" {
			treeOK[r] = spanOf[r] != nil && spanOf[r].ParentID == ""
		}
	}
	for _, r := range recs {
		p := parent(r)
		if p == nil {
			continue
		}
		kind := natsEdgeKind(r, p)
		c := res.rec[kind]
		c[1]++
		cs, ps := spanOf[r], spanOf[p]
		ok := cs != nil && ps != nil && cs.ParentID == ps.SpanID
		if ok {
			c[0]++
		} else {
			got := "(not captured)"
			if cs != nil {
				got = "(root)"
				if q := spanByID[cs.ParentID]; q != nil {
					got = q.Name + " (" + cs.LinkReason + ")"
				}
			}
			res.wrong = append(res.wrong, fmt.Sprintf("%s: %s %s <- %s, wiretrace: %s", kind, r.Kind, r.ID, p.ID, got))
		}
		res.rec[kind] = c
		if rt := root(r); rt != nil {
			treeOK[rt] = treeOK[rt] && ok
		}
	}
	for _, ok := range treeOK {
		res.traces++
		if ok {
			res.tracesOK++
		}
	}
	// Precision: every parent wiretrace gave a mapped span whose parent is
	// mapped too.
	for _, s := range spans {
		r := recOf[s]
		if r == nil || s.ParentID == "" {
			continue
		}
		ps := spanByID[s.ParentID]
		pr := recOf[ps]
		if ps == nil || pr == nil {
			continue
		}
		c := res.prec[s.LinkReason]
		c[1]++
		if parent(r) == pr {
			c[0]++
		}
		res.prec[s.LinkReason] = c
	}
	return res, nil
}

func printNATSTable(w io.Writer, results []*natsResult, verbose bool) {
	fmt.Fprintln(w, "\nNATS scenario: HTTP > publisher > nats-server > consumer > HTTP (parent edges vs the services' logs)")
	fmt.Fprintf(w, "%-30s", "")
	for _, r := range results {
		fmt.Fprintf(w, " | %-22s", r.label)
	}
	fmt.Fprintln(w)
	row := func(name string, f func(r *natsResult) string) {
		fmt.Fprintf(w, "%-30s", name)
		for _, r := range results {
			fmt.Fprintf(w, " | %-22s", f(r))
		}
		fmt.Fprintln(w)
	}
	frac := func(c [2]int) string {
		if c[1] == 0 {
			return "-"
		}
		return fmt.Sprintf("%d/%d = %.3f", c[0], c[1], float64(c[0])/float64(c[1]))
	}
	row("spans (mapped to the logs)", func(r *natsResult) string { return fmt.Sprintf("%d (%d)", r.spans, r.mapped) })
	row("exchanges logged (captured)", func(r *natsResult) string { return fmt.Sprintf("%d (%d)", r.records, r.captured) })
	fmt.Fprintln(w, "recall by edge:")
	for _, k := range natsEdgeKinds {
		row("  "+k, func(r *natsResult) string { return frac(r.rec[k]) })
	}
	all := func(r *natsResult) [2]int {
		var t [2]int
		for _, c := range r.rec {
			t[0], t[1] = t[0]+c[0], t[1]+c[1]
		}
		return t
	}
	row("  all edges", func(r *natsResult) string { return frac(all(r)) })
	fmt.Fprintln(w, "precision by link_reason:")
	var reasons []string
	for _, r := range results {
		for k := range r.prec {
			if !slices.Contains(reasons, k) {
				reasons = append(reasons, k)
			}
		}
	}
	slices.Sort(reasons)
	for _, k := range reasons {
		row("  "+k, func(r *natsResult) string { return frac(r.prec[k]) })
	}
	row("requests fully correct", func(r *natsResult) string { return frac([2]int{r.tracesOK, r.traces}) })
	if verbose {
		for _, r := range results {
			for _, l := range r.wrong {
				fmt.Fprintf(w, "%s: %s\n", r.label, l)
			}
		}
	}
}
