package correlate_test

import (
	"fmt"
	"net/netip"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/protocols"
)

// tasks is an Attributor from a table: "from>to/seq/sent" → task.
type tasks map[string]correlate.Task

func tkey(from, to string, seq uint32, sent bool) string {
	return fmt.Sprintf("%s>%s/%d/%v", from, to, seq, sent)
}

func (m tasks) Task(from, to netip.AddrPort, seq uint32, sent bool) (correlate.Task, bool) {
	t, ok := m[tkey(from.String(), to.String(), seq, sent)]
	return t, ok
}

// read and wrote name the task that read a request on flow f (seq 1) or
// wrote the request of an outbound flow (seq 1 or 2); answered the one that
// wrote a response (seq 0 in feed).
func read(m tasks, f protocols.Flow, seq uint32, t correlate.Task) {
	m[tkey(f.Client.String(), f.Server.String(), seq, false)] = t
}

func wrote(m tasks, f protocols.Flow, seq uint32, t correlate.Task) {
	m[tkey(f.Client.String(), f.Server.String(), seq, true)] = t
}

func answered(m tasks, f protocols.Flow, t correlate.Task) {
	m[tkey(f.Server.String(), f.Client.String(), 0, true)] = t
}

func TestSameThread(t *testing.T) {
	in0 := flow(9, "a", "10.0.0.1:4999", "10.0.0.2:80")
	in1 := flow(1, "a", "10.0.0.1:5000", "10.0.0.2:80")
	in2 := flow(2, "a", "10.0.0.1:5001", "10.0.0.2:80")
	in3 := flow(3, "a", "10.0.0.1:5002", "10.0.0.2:80")
	out := flow(4, "a", "10.0.0.2:6000", "10.0.0.3:3306")
	local := []netip.Prefix{netip.MustParsePrefix("10.0.0.2/32")}
	app := func(tid uint32) correlate.Task { return correlate.Task{PID: 100, TID: tid, Comm: "app"} }
	concurrent := []exchange{
		{flow: in1, name: "GET /1", start: 0, end: 10 * ms, seq: 1},
		{flow: in2, name: "GET /2", start: 1 * ms, end: 11 * ms, seq: 1},
		{flow: out, name: "SELECT", start: 2 * ms, end: 4 * ms, seq: 1},
	}
	tests := []struct {
		name         string
		tasks        func(tasks)
		exs          []exchange
		want         [][]string
		wantExcluded uint64
		wantSame     uint64
	}{
		{
			name:  "no tasks: timing picks the latest arrival",
			tasks: func(m tasks) {},
			exs:   concurrent,
			want:  [][]string{{"GET /1 [a] ok"}, {"GET /2 [a] ok", "SELECT [a] ok <- GET /2 [a] (timing) conf=0.57"}},
		},
		{
			name: "the thread that read GET /1 sent the call",
			tasks: func(m tasks) {
				read(m, in1, 1, app(11))
				read(m, in2, 1, app(12))
				wrote(m, out, 1, app(11))
			},
			exs:      concurrent,
			want:     [][]string{{"GET /1 [a] ok", "SELECT [a] ok <- GET /1 [a] (same_thread)"}, {"GET /2 [a] ok"}},
			wantSame: 1, wantExcluded: 1,
		},
		{
			name: "another thread read each candidate: root",
			tasks: func(m tasks) {
				read(m, in1, 1, app(11))
				read(m, in2, 1, app(12))
				wrote(m, out, 1, app(14))
			},
			exs:          concurrent,
			want:         [][]string{{"GET /1 [a] ok"}, {"GET /2 [a] ok"}, {"SELECT [a] ok"}},
			wantExcluded: 2,
		},
		{
			name: "a candidate with no task stays a timing candidate",
			tasks: func(m tasks) {
				read(m, in1, 1, app(11))
				wrote(m, out, 1, app(14))
			},
			exs:          concurrent,
			want:         [][]string{{"GET /1 [a] ok"}, {"GET /2 [a] ok", "SELECT [a] ok <- GET /2 [a] (timing) conf=0.95"}},
			wantExcluded: 1,
		},
		{
			name: "a process that moves requests between threads: only other processes are ruled out",
			tasks: func(m tasks) {
				read(m, in0, 1, app(12))
				answered(m, in0, app(13)) // read on 12, answered on 13
				read(m, in1, 1, correlate.Task{PID: 200, TID: 200, Comm: "other"})
				read(m, in2, 1, app(12))
				read(m, in3, 1, app(16))
				wrote(m, out, 1, app(15))
			},
			exs: []exchange{
				{flow: in0, name: "GET /0", start: -10 * ms, end: -5 * ms, seq: 1},
				{flow: in1, name: "GET /1", start: 0, end: 10 * ms, seq: 1},
				{flow: in2, name: "GET /2", start: 1 * ms, end: 11 * ms, seq: 1},
				{flow: in3, name: "GET /3", start: 1500 * 1000, end: 12 * ms, seq: 1},
				{flow: out, name: "SELECT", start: 2 * ms, end: 4 * ms, seq: 1},
			},
			want: [][]string{
				{"GET /0 [a] ok"}, {"GET /1 [a] ok"}, {"GET /2 [a] ok"},
				{"GET /3 [a] ok", "SELECT [a] ok <- GET /3 [a] (timing) conf=0.57"},
			},
			wantExcluded: 1,
		},
		{
			name: "a call's reply read on another thread: threads say nothing",
			tasks: func(m tasks) {
				read(m, in1, 1, app(11))
				read(m, in2, 1, app(12))
				wrote(m, out, 1, app(13))
				m[tkey(out.Server.String(), out.Client.String(), 0, false)] = app(14)
				wrote(m, out, 2, app(12))
			},
			exs: []exchange{
				{flow: in1, name: "GET /1", start: 0, end: 10 * ms, seq: 1},
				{flow: in2, name: "GET /2", start: 1 * ms, end: 11 * ms, seq: 1},
				{flow: out, name: "SELECT", start: 2 * ms, end: 3 * ms, seq: 1},
				{flow: out, name: "UPDATE", start: 4 * ms, end: 5 * ms, seq: 2},
			},
			want: [][]string{{
				"GET /1 [a] ok",
			}, {
				"GET /2 [a] ok",
				"SELECT [a] ok <- GET /2 [a] (timing) conf=0.57",
				"UPDATE [a] ok <- GET /2 [a] (timing) conf=0.81",
			}},
		},
		{
			name: "two candidates read by the sending thread (an event loop): timing between them",
			tasks: func(m tasks) {
				read(m, in1, 1, app(11))
				read(m, in2, 1, app(11))
				read(m, in3, 1, correlate.Task{PID: 300, TID: 300})
				wrote(m, out, 1, app(11))
			},
			exs: []exchange{
				{flow: in1, name: "GET /1", start: 0, end: 10 * ms, seq: 1},
				{flow: in2, name: "GET /2", start: 1 * ms, end: 11 * ms, seq: 1},
				{flow: in3, name: "GET /3", start: 1500 * 1000, end: 12 * ms, seq: 1},
				{flow: out, name: "SELECT", start: 2 * ms, end: 4 * ms, seq: 1},
			},
			want:         [][]string{{"GET /1 [a] ok"}, {"GET /2 [a] ok", "SELECT [a] ok <- GET /2 [a] (timing) conf=0.57"}, {"GET /3 [a] ok"}},
			wantExcluded: 1,
		},
		{
			name: "a key on the wire wins over the thread",
			tasks: func(m tasks) {
				read(m, in1, 1, app(11))
				read(m, in2, 1, app(12))
				wrote(m, out, 1, app(12))
			},
			exs: []exchange{
				{flow: in1, name: "GET /1", start: 0, end: 10 * ms, seq: 1, reqLinks: xrid("req-1")},
				{flow: in2, name: "GET /2", start: 1 * ms, end: 11 * ms, seq: 1, reqLinks: xrid("req-2")},
				{flow: out, name: "GET /x", start: 2 * ms, end: 3 * ms, seq: 1, reqLinks: xrid("req-1")},
			},
			want: [][]string{{"GET /1 [a] ok", "GET /x [a] ok <- GET /1 [a] (x_request_id)"}, {"GET /2 [a] ok"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := tasks{}
			tc.tasks(m)
			cfg := &correlate.Config{LocalNets: local, TimingMinConfidence: -1, Attributor: m}
			got, st := run(t, cfg, tc.exs)
			if diff := gocmp.Diff(tc.want, got); diff != "" {
				t.Errorf("traces (-want +got):\n%s", diff)
			}
			if st.ThreadExcluded != tc.wantExcluded || st.SameThreadLinks != tc.wantSame {
				t.Errorf("thread excluded %d, same thread %d; want %d, %d", st.ThreadExcluded, st.SameThreadLinks, tc.wantExcluded, tc.wantSame)
			}
		})
	}
}

// TestTaskAttributes checks the process attributes of client and server
// spans: the task of the request, else of the response.
func TestTaskAttributes(t *testing.T) {
	in := flow(1, "a", "10.0.0.1:5000", "10.0.0.2:80")
	out := flow(2, "a", "10.0.0.2:6000", "10.0.0.3:6379")
	far := flow(3, "a", "10.0.0.2:6001", "10.0.0.3:6379")
	const cid = "3f4e9a1b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccdd0"
	m := tasks{}
	read(m, in, 1, correlate.Task{PID: 100, TID: 101, Comm: "python3", ContainerID: cid})
	wrote(m, out, 1, correlate.Task{PID: 100, TID: 101, Comm: "python3"})
	// far: only the response's reader is known.
	m[tkey(far.Server.String(), far.Client.String(), 0, false)] = correlate.Task{PID: 100, TID: 102, Comm: "python3"}
	s := &sink{}
	b := correlate.NewBuilder(&correlate.Config{LocalNets: []netip.Prefix{netip.MustParsePrefix("10.0.0.2/32")}, Attributor: m}, s)
	feed(b,
		exchange{flow: in, name: "GET /", start: 0, end: 10 * ms, seq: 1},
		exchange{flow: out, name: "GET", start: 2 * ms, end: 3 * ms, seq: 1},
		exchange{flow: far, name: "SET", start: 4 * ms, end: 5 * ms, seq: 1},
	)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]any{}
	for _, tr := range s.traces {
		for _, sp := range tr.Spans {
			a := map[string]any{}
			for _, k := range []string{correlate.AttrProcessPID, correlate.AttrThreadID, correlate.AttrProcessExecutableName, correlate.AttrContainerID} {
				if v, ok := sp.Attributes[k]; ok {
					a[k] = v
				}
			}
			got[sp.Name+" "+sp.Side] = a
		}
	}
	want := map[string]map[string]any{
		"GET / server": {"process.pid": int64(100), "thread.id": int64(101), "process.executable.name": "python3", "container.id": cid},
		"GET client":   {"process.pid": int64(100), "thread.id": int64(101), "process.executable.name": "python3"},
		"SET client":   {"process.pid": int64(100), "thread.id": int64(102), "process.executable.name": "python3"},
	}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("attributes (-want +got):\n%s", diff)
	}
}
