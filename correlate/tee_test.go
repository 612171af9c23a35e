package correlate_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wiretrace/wiretrace/correlate"
)

type recSink struct {
	got    []string
	err    error
	closed bool
}

func (r *recSink) WriteTrace(t *correlate.Trace) error { r.got = append(r.got, t.ID); return r.err }
func (r *recSink) Close() error                        { r.closed = true; return r.err }

func TestTee(t *testing.T) {
	boom := errors.New("boom")
	a, b := &recSink{err: boom}, &recSink{}
	s := correlate.Tee(a, b)
	if err := s.WriteTrace(&correlate.Trace{ID: "t1"}); !errors.Is(err, boom) {
		t.Errorf("WriteTrace = %v, want boom", err)
	}
	if err := s.Close(); !errors.Is(err, boom) {
		t.Errorf("Close = %v, want boom", err)
	}
	if diff := cmp.Diff([]string{"t1"}, b.got); diff != "" {
		t.Errorf("second sink (-want +got):\n%s", diff)
	}
	if !a.closed || !b.closed {
		t.Errorf("closed = %v %v, want both", a.closed, b.closed)
	}
}
