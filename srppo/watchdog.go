package srppo

import (
	"runtime"
	"sync"
	"time"
)

// Watchdog reports a stall: if Beat is not called for Timeout, it calls OnStall once with a dump
// of every goroutine's stack. Long runs use it because a hang of the Go backend's scheduler shows
// as 0% CPU forever; a watchdog turns that into a diagnosis instead of silence.
type Watchdog struct {
	mu      sync.Mutex
	last    time.Time
	timeout time.Duration
	onStall func(idle time.Duration, stacks []byte)
	done    chan struct{}
	fired   bool
}

// StartWatchdog starts watching; call Stop when the guarded work ends.
func StartWatchdog(timeout time.Duration, onStall func(idle time.Duration, stacks []byte)) *Watchdog {
	w := &Watchdog{last: time.Now(), timeout: timeout, onStall: onStall, done: make(chan struct{})}
	go w.watch()
	return w
}

// Beat records progress.
func (w *Watchdog) Beat() {
	w.mu.Lock()
	w.last = time.Now()
	w.mu.Unlock()
}

// Stop ends watching.
func (w *Watchdog) Stop() { close(w.done) }

func (w *Watchdog) watch() {
	tick := time.NewTicker(min(w.timeout/4, time.Second))
	defer tick.Stop()
	for {
		select {
		case <-w.done:
			return
		case <-tick.C:
			w.mu.Lock()
			idle := time.Since(w.last)
			fire := idle > w.timeout && !w.fired
			if fire {
				w.fired = true
			}
			w.mu.Unlock()
			if fire {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				w.onStall(idle, buf)
			}
		}
	}
}
