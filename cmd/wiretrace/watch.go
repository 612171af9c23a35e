package main

import (
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
	// The file output is closed first, so it is complete while the view
	// waits for the user.
	return v, correlate.Tee(out, v), nil
}

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
