// Package watch is the live terminal view of the CLI's --watch flag: a
// correlate.Sink that keeps, per (client service, server service,
// operation), requests per second, errors and p50/p99 latency, and shows
// them as a full-screen table (tcell) with the slowest recent traces
// below, or, when stdout is not a terminal, as plain text blocks printed
// periodically.
//
// Rates and "recent" are measured in packet time (the latest span end
// seen), so a replay that runs faster than real time shows the rates the
// capture had. WriteTrace may be called from one goroutine while the view
// draws from others.
package watch

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/correlate/tree"
)

// Config configures a View; the zero value (or nil) means defaults.
type Config struct {
	// ServiceNames maps "IP" or "IP:PORT" to service names (see
	// html.Namer).
	ServiceNames map[string]string
	// Screen, when set, is where the full-screen table is drawn; the
	// View initialises and finalises it. Nil means plain text to Out.
	Screen tcell.Screen
	// Out receives the plain text blocks (default os.Stdout).
	Out io.Writer
	// Interval is how often the screen is redrawn (default 250ms) or a
	// plain block is printed (default 2s).
	Interval time.Duration
	// MaxPlainRows bounds the rows of a plain block (default 20).
	MaxPlainRows int
	// OnQuit is called once, from the view's goroutine, when the user
	// quits (q, Esc or Ctrl-C), so the caller can stop reading packets.
	OnQuit func()
}

// View is the live view. Create it with Open.
type View struct {
	cfg   Config
	mu    sync.Mutex
	m     *model
	order int
	ended bool

	drawMu    sync.Mutex
	quit      chan struct{}
	quitOnce  sync.Once
	stop      chan struct{}
	wg        sync.WaitGroup // keys
	tickWG    sync.WaitGroup
	fini      bool // the screen is finalised; under drawMu
	closed    bool
	lastPlain uint64
}

var _ correlate.Sink = (*View)(nil)

// Open starts the view: it initialises cfg.Screen, when set, and starts
// the goroutines that draw and read keys.
func Open(cfg *Config) (*View, error) {
	c := Config{}
	if cfg != nil {
		c = *cfg
	}
	if c.Out == nil {
		c.Out = os.Stdout
	}
	if c.MaxPlainRows <= 0 {
		c.MaxPlainRows = 20
	}
	if c.Interval <= 0 {
		c.Interval = 2 * time.Second
		if c.Screen != nil {
			c.Interval = 250 * time.Millisecond
		}
	}
	v := &View{cfg: c, m: newModel(c.ServiceNames), quit: make(chan struct{}), stop: make(chan struct{})}
	if c.Screen != nil {
		if err := c.Screen.Init(); err != nil {
			return nil, fmt.Errorf("watch: terminal: %w", err)
		}
		c.Screen.HideCursor()
		v.wg.Add(1)
		go v.keys()
		v.draw()
	}
	v.tickWG.Add(1)
	go v.tick()
	return v, nil
}

// WriteTrace adds a trace to the view.
func (v *View) WriteTrace(t *correlate.Trace) error {
	v.mu.Lock()
	v.m.add(t)
	v.mu.Unlock()
	return nil
}

// Quit is closed when the user has quit.
func (v *View) Quit() <-chan struct{} { return v.quit }

// Close tells the view that no more traces come. The full-screen view
// then stays open, saying so, until the user quits; the plain view prints
// its last block. Close restores the terminal and is idempotent.
func (v *View) Close() error {
	if v.closed {
		return nil
	}
	v.closed = true
	v.mu.Lock()
	v.ended = true
	v.mu.Unlock()
	if v.cfg.Screen != nil {
		v.draw()
		<-v.quit
	}
	close(v.stop)
	v.tickWG.Wait()
	if v.cfg.Screen != nil {
		// No draw may run during or after Fini (tcell's draw loop
		// does not end on a finalised screen).
		v.drawMu.Lock()
		v.fini = true
		v.cfg.Screen.Fini() // ends PollEvent in keys
		v.drawMu.Unlock()
	}
	v.wg.Wait()
	if v.cfg.Screen == nil {
		return v.plain(true)
	}
	return nil
}

func (v *View) doQuit() {
	v.quitOnce.Do(func() {
		close(v.quit)
		if v.cfg.OnQuit != nil {
			v.cfg.OnQuit()
		}
	})
}

func (v *View) keys() {
	defer v.wg.Done()
	for {
		ev := v.cfg.Screen.PollEvent()
		switch ev := ev.(type) {
		case nil:
			return
		case *tcell.EventResize:
			v.cfg.Screen.Sync()
			v.draw()
		case *tcell.EventKey:
			order := -1
			switch ev.Key() {
			case tcell.KeyEscape, tcell.KeyCtrlC:
				v.doQuit()
			case tcell.KeyRune:
				switch ev.Rune() {
				case 'q', 'Q':
					v.doQuit()
				case 'r':
					order = SortRate
				case 'c':
					order = SortCount
				case 'e':
					order = SortErrors
				case '5':
					order = SortP50
				case '9', 'p':
					order = SortP99
				case 'n':
					order = SortName
				}
			}
			if order >= 0 {
				v.mu.Lock()
				v.order = order
				v.mu.Unlock()
				v.draw()
			}
		}
	}
}

func (v *View) tick() {
	defer v.tickWG.Done()
	t := time.NewTicker(v.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-v.stop:
			return
		case <-v.quit:
			return
		case <-t.C:
			if v.cfg.Screen != nil {
				v.draw()
			} else if err := v.plain(false); err != nil {
				return
			}
		}
	}
}

func (v *View) snapshot() (*Snapshot, int, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.m.snapshot(v.order), v.order, v.ended
}

// plain prints one text block, unless nothing changed since the last one.
func (v *View) plain(final bool) error {
	sn, _, _ := v.snapshot()
	if !final && sn.Spans == v.lastPlain {
		return nil
	}
	v.lastPlain = sn.Spans
	var b strings.Builder
	when := "-"
	if sn.Now > 0 {
		when = time.Unix(0, sn.Now).UTC().Format("15:04:05.000")
	}
	label := "watch"
	if final {
		label = "watch final"
	}
	fmt.Fprintf(&b, "%s %s spans=%d traces=%d errors=%d rows=%d\n", label, when, sn.Spans, sn.Traces, sn.Errors, len(sn.Rows))
	for i, r := range sn.Rows {
		if i == v.cfg.MaxPlainRows {
			fmt.Fprintf(&b, "  … %d more rows\n", len(sn.Rows)-i)
			break
		}
		fmt.Fprintf(&b, "  %s → %s  %s %s  rate=%.1f/s count=%d errors=%d p50=%s p99=%s\n",
			r.Client, r.Server, r.Protocol, r.Op, r.Rate, r.Count, r.Errors, tree.Duration(r.P50), tree.Duration(r.P99))
	}
	_, err := io.WriteString(v.cfg.Out, b.String())
	return err
}

var sortNames = [...]string{SortRate: "req/s", SortCount: "count", SortErrors: "errors", SortP50: "p50", SortP99: "p99", SortName: "name"}

// draw renders the full-screen table.
func (v *View) draw() {
	scr := v.cfg.Screen
	if scr == nil {
		return
	}
	sn, order, ended := v.snapshot()
	v.drawMu.Lock()
	defer v.drawMu.Unlock()
	if v.fini {
		return
	}
	scr.Clear()
	w, h := scr.Size()
	bold := tcell.StyleDefault.Bold(true)
	head := tcell.StyleDefault.Reverse(true)
	dim := tcell.StyleDefault.Dim(true)
	red := tcell.StyleDefault.Foreground(tcell.ColorRed)
	put := func(x, y int, s string, st tcell.Style) {
		if y < h {
			scr.PutStrStyled(x, y, s, st)
		}
	}
	state := "live"
	if ended {
		state = "input ended — press q to quit"
	}
	when := "-"
	if sn.Now > 0 {
		when = time.Unix(0, sn.Now).UTC().Format("2006-01-02 15:04:05.000")
	}
	put(0, 0, fmt.Sprintf("wiretrace watch  %s  spans %d  traces %d  errors %d  [%s]", when, sn.Spans, sn.Traces, sn.Errors, state), bold)
	put(0, 1, "sort: r req/s  c count  e errors  5 p50  9 p99  n name   q quit    sorted by "+sortNames[order], dim)

	// Column widths: fixed numbers, the rest shared by names.
	const nums = 9 + 9 + 8 + 10 + 10
	free := max(w-nums-4, 30)
	cw, sw, pw := free*22/100, free*22/100, free*10/100
	ow := free - cw - sw - pw
	cell := func(s string, n int) string {
		r := []rune(s)
		if len(r) > n-1 {
			if n <= 1 {
				return strings.Repeat(" ", max(n, 0))
			}
			r = append(r[:n-2], '…')
		}
		return string(r) + strings.Repeat(" ", n-len(r))
	}
	hdr := cell("CLIENT", cw) + cell("SERVER", sw) + cell("PROTO", pw) + cell("OPERATION", ow) +
		fmt.Sprintf("%8s %8s %7s %9s %9s", "REQ/S", "COUNT", "ERRORS", "P50", "P99")
	put(0, 3, cell(hdr, w), head)

	slowRows := min(len(sn.Slowest), 8)
	tableRows := max(h-4-3-slowRows, 3)
	y := 4
	for i, r := range sn.Rows {
		if i == tableRows {
			put(0, y, fmt.Sprintf("… %d more rows", len(sn.Rows)-i), dim)
			y++
			break
		}
		line := cell(r.Client, cw) + cell(r.Server, sw) + cell(r.Protocol, pw) + cell(r.Op, ow) +
			fmt.Sprintf("%8.1f %8d %7d %9s %9s", r.Rate, r.Count, r.Errors, tree.Duration(r.P50), tree.Duration(r.P99))
		st := tcell.StyleDefault
		if r.Errors > 0 {
			st = red
		}
		put(0, y, line, st)
		y++
	}
	if len(sn.Rows) == 0 {
		put(0, y, "(no spans yet)", dim)
		y++
	}
	y++
	put(0, y, cell("SLOWEST RECENT TRACES", w), head)
	y++
	for i, t := range sn.Slowest {
		if i == slowRows || y >= h {
			break
		}
		st := tcell.StyleDefault
		if t.Status != correlate.StatusOK {
			st = red
		}
		put(0, y, fmt.Sprintf("%9s  %-7s %3d spans  %s → %s  %s  %s", tree.Duration(t.Dur), t.Status, t.Spans, t.Client, t.Server, t.Root, t.ID), st)
		y++
	}
	scr.Show()
}
