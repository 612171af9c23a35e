package watch

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/wiretrace/wiretrace/correlate"
)

func span(client, server, name string, start, dur int64, status string) *correlate.Span {
	return &correlate.Span{Protocol: "http", Name: name, StartNS: start, EndNS: start + dur, Status: status,
		Client: correlate.Endpoint{IP: client, Port: 40000}, Server: correlate.Endpoint{IP: server, Port: 80}}
}

func traces() []*correlate.Trace {
	var ts []*correlate.Trace
	base := int64(1_700_000_000e9)
	for i := 0; i < 20; i++ {
		st := correlate.StatusOK
		if i%5 == 0 {
			st = correlate.StatusError
		}
		root := span("10.0.0.1", "10.0.0.2", "GET /a", base+int64(i)*1e8, int64(i+1)*1e6, correlate.StatusOK)
		kid := span("10.0.0.2", "10.0.0.3", "SELECT", base+int64(i)*1e8+1e5, 1e5, st)
		kid.Parent = root
		ts = append(ts, &correlate.Trace{ID: fmt.Sprintf("t%02d", i), Spans: []*correlate.Span{root, kid}})
	}
	return ts
}

func TestSnapshot(t *testing.T) {
	m := newModel(map[string]string{"10.0.0.3": "db"})
	for _, tr := range traces() {
		m.add(tr)
	}
	sn := m.snapshot(SortP99)
	// 20 requests of each kind in the 1.92 s from the first span start to
	// the last span end (the rate window is that, at least 1 s, at most 10 s).
	want := []Row{
		{Client: "10.0.0.1", Server: "10.0.0.2", Protocol: "http", Op: "GET /a", Rate: 20 / 1.92, Count: 20, P50: 10e6, P99: 20e6},
		{Client: "10.0.0.2", Server: "db", Protocol: "http", Op: "SELECT", Rate: 20 / 1.92, Count: 20, Errors: 4, P50: 1e5, P99: 1e5},
	}
	if diff := cmp.Diff(want, sn.Rows, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	if sn.Spans != 40 || sn.Traces != 20 || sn.Errors != 4 || len(sn.Slowest) != 20 || sn.Slowest[0].ID != "t19" {
		t.Errorf("snapshot totals: %+v", sn)
	}
	if got := m.snapshot(SortErrors).Rows[0].Op; got != "SELECT" {
		t.Errorf("sort by errors: first row %q, want SELECT", got)
	}
}

func TestPlain(t *testing.T) {
	var out bytes.Buffer
	v, err := Open(&Config{Out: &out, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range traces() {
		v.WriteTrace(tr)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"watch final", "spans=40 traces=20 errors=4", "10.0.0.2 → 10.0.0.3  http SELECT", "count=20 errors=4"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

func TestScreenQuit(t *testing.T) {
	scr := tcell.NewSimulationScreen("UTF-8")
	scr.SetSize(120, 30)
	quit := make(chan struct{})
	v, err := Open(&Config{Screen: scr, Interval: 10 * time.Millisecond, OnQuit: func() { close(quit) }})
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range traces() {
		v.WriteTrace(tr)
	}
	screen := func() string {
		// GetContents returns the screen's own cells, which Show
		// writes: read them while no draw runs.
		v.drawMu.Lock()
		defer v.drawMu.Unlock()
		cells, w, _ := scr.GetContents()
		var b strings.Builder
		for i, c := range cells {
			if i > 0 && i%w == 0 {
				b.WriteByte('\n')
			}
			if len(c.Runes) > 0 {
				b.WriteString(string(c.Runes))
			} else {
				b.WriteByte(' ')
			}
		}
		return b.String()
	}
	var s string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if s = screen(); strings.Contains(s, "SELECT") {
			break
		}
	}
	if !strings.Contains(s, "SELECT") || !strings.Contains(s, "GET /a") || !strings.Contains(s, "SLOWEST RECENT TRACES") {
		t.Fatalf("screen:\n%s", s)
	}
	scr.InjectKey(tcell.KeyRune, 'e', 0)
	scr.InjectKey(tcell.KeyRune, 'q', 0)
	select {
	case <-quit:
	case <-time.After(5 * time.Second):
		t.Fatal("q did not quit")
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	v.Close()
}
