package correlate

import "errors"

// Tee returns a Sink that writes every trace to each of sinks in order and
// closes them all. The sinks must not modify the trace, since they share it.
// Errors are joined; one sink's failure does not stop the others.
func Tee(sinks ...Sink) Sink { return tee(sinks) }

type tee []Sink

func (t tee) WriteTrace(tr *Trace) error {
	var errs []error
	for _, s := range t {
		if err := s.WriteTrace(tr); err != nil {
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
