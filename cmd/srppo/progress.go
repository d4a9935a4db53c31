package main

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// progressBar prints "name [=====>    ] step/total  detail  ETA": redrawn in place on a terminal,
// one line every few seconds when the output is a log file.
type progressBar struct {
	name     string
	tty      bool
	last     time.Time
	drawn    bool
	interval time.Duration
}

func newProgressBar(name string) *progressBar {
	fi, err := os.Stderr.Stat()
	tty := err == nil && fi.Mode()&os.ModeCharDevice != 0
	interval := 10 * time.Second
	if tty {
		interval = 200 * time.Millisecond
	}
	return &progressBar{name: name, tty: tty, interval: interval}
}

func (b *progressBar) update(step, total int, detail string, eta time.Duration) {
	if step < total && time.Since(b.last) < b.interval {
		return
	}
	b.last = time.Now()
	const width = 24
	filled := 0
	if total > 0 {
		filled = min(width, step*width/total)
	}
	bar := strings.Repeat("=", filled) + strings.Repeat(" ", width-filled)
	if filled < width {
		bar = bar[:filled] + ">" + bar[filled+1:]
	}
	line := fmt.Sprintf("%s [%s] %d/%d  %s  ETA %s", b.name, bar, step, total, detail, eta.Round(time.Second))
	if b.tty {
		fmt.Fprintf(os.Stderr, "\r\033[K%s", line)
	} else {
		fmt.Fprintln(os.Stderr, line)
	}
	b.drawn = true
}

func (b *progressBar) done() {
	if b.tty && b.drawn {
		fmt.Fprintln(os.Stderr)
	}
}
