package main

import (
	"fmt"
	"io"
	"os"
	"time"
)

// progress draws a one-line progress bar on a terminal.
type progress struct {
	w     io.Writer
	total int64
	start time.Time
	last  time.Time
}

func newProgress(w io.Writer, total int64) *progress {
	now := time.Now()
	return &progress{w: w, total: total, start: now, last: now}
}

func (p *progress) update(packets, bytes uint64) {
	if packets%4096 != 0 {
		return
	}
	now := time.Now()
	if now.Sub(p.last) < 250*time.Millisecond {
		return
	}
	p.last = now
	// File bytes include record headers; the wire bytes are a close
	// estimate of how far we are.
	frac := float64(bytes+16*packets) / float64(p.total)
	if frac > 1 {
		frac = 1
	}
	const width = 30
	n := int(frac * width)
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = ' '
		if i < n {
			bar[i] = '='
		}
	}
	el := now.Sub(p.start).Seconds()
	fmt.Fprintf(p.w, "\r[%s] %3.0f%%  %d packets  %.0f packets/s", bar, frac*100, packets, float64(packets)/el)
}

func (p *progress) done() { fmt.Fprint(p.w, "\r\033[K") }

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
