package correlate

import "errors"

// Tee returns a Sink that writes every trace to each of sinks in order and
// closes them all, in order. Each sink gets its own copy of the trace's span
// list (the spans themselves are shared and must not be modified), so a
// sink may keep or reorder it. Errors are joined; one sink's failure does
// not stop the others.
func Tee(sinks ...Sink) Sink { return tee(sinks) }

type tee []Sink

func (t tee) WriteTrace(tr *Trace) error {
	var errs []error
	for i, s := range t {
		c := tr
		if i > 0 {
			c = &Trace{ID: tr.ID, Spans: append([]*Span(nil), tr.Spans...)}
		}
		if err := s.WriteTrace(c); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (t tee) Close() error {
	var errs []error
	for _, s := range t {
		if err := s.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Flush flushes each sink that has a Flush method.
func (t tee) Flush() error {
	var errs []error
	for _, s := range t {
		if f, ok := s.(interface{ Flush() error }); ok {
			if err := f.Flush(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
