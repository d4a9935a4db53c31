package srppo

import (
	"strings"
	"testing"
	"time"
)

func TestWatchdogReportsStallOnce(t *testing.T) {
	fired := make(chan []byte, 4)
	// A limit far above the beat interval, so that a loaded machine's scheduling delays are no stall.
	w := StartWatchdog(500*time.Millisecond, func(_ time.Duration, stacks []byte) { fired <- stacks })
	defer w.Stop()
	for range 5 { // regular beats: no report
		time.Sleep(10 * time.Millisecond)
		w.Beat()
	}
	select {
	case <-fired:
		t.Fatal("watchdog fired while beats were regular")
	default:
	}
	select {
	case stacks := <-fired:
		if !strings.Contains(string(stacks), "goroutine") {
			t.Errorf("report has no stacks: %q", stacks)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watchdog did not report a stall")
	}
	time.Sleep(time.Second)
	if len(fired) != 0 {
		t.Error("watchdog reported the same stall twice")
	}
}
