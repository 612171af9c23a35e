package main

import (
	"errors"
	"io"

	"github.com/gdamore/tcell/v2"
	"github.com/spf13/cobra"
	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/cmd/wiretrace/internal/watch"
	"github.com/wiretrace/wiretrace/correlate"
)

// openWatch opens the --watch view: full screen when stdout is a
// terminal, else plain periodic blocks on stdout. The returned sink feeds
// the view and, when -o FILE is given, the --format output too. onQuit is
// called when the user quits the view.
func (o *outputFlags) openWatch(cmd *cobra.Command, onQuit func()) (*watch.View, correlate.Sink, error) {
	var out correlate.Sink
	if o.output != "" && o.output != "-" {
		var err error
		if out, err = o.openSink(cmd.OutOrStdout()); err != nil {
			return nil, nil, err
		}
	}
	names, err := o.serviceNameMap()
	if err != nil {
		if out != nil {
			out.Close()
		}
		return nil, nil, err
	}
	cfg := &watch.Config{Out: cmd.OutOrStdout(), OnQuit: onQuit, ServiceNames: names}
	if isTerminal(cmd.OutOrStdout()) {
		scr, err := tcell.NewScreen()
		if err != nil {
			if out != nil {
				out.Close()
			}
			return nil, nil, err
		}
		cfg.Screen = scr
	}
	v, err := watch.Open(cfg)
	if err != nil {
		if out != nil {
			out.Close()
		}
		return nil, nil, err
	}
	if out == nil {
		return v, v, nil
	}
	return v, teeSink{v, out}, nil
}

// teeSink writes every trace to two sinks.
type teeSink [2]correlate.Sink

func (t teeSink) WriteTrace(tr *correlate.Trace) error {
	// The second sink gets the trace too; the first only reads it.
	return errors.Join(t[0].WriteTrace(tr), t[1].WriteTrace(tr))
}

// Close closes the file output first, so it is complete while the view
// waits for the user.
func (t teeSink) Close() error { return errors.Join(t[1].Close(), t[0].Close()) }

// quitSource ends a replay early when the watch view is quit.
type quitSource struct {
	capture.Source
	quit <-chan struct{}
}

func (q *quitSource) ReadPacket(p *capture.Packet) error {
	select {
	case <-q.quit:
		return io.EOF
	default:
		return q.Source.ReadPacket(p)
	}
}
