package bench

import (
	"bytes"
	"flag"
	"strings"
	"sync"

	"k8s.io/klog/v2"
)

// GoMLX logs, at klog verbosity 1, one "Graph.Compile time" line per graph compilation and one
// "Graph.RunWithBuffers" line per graph execution. countGraphs turns that logging on for the
// duration of f and counts the lines. The logging costs a few microseconds per graph call
// (a formatted line into a buffer), negligible against the milliseconds each call takes.

var (
	klogOnce  sync.Once
	klogFlags *flag.FlagSet
	klogBuf   syncBuffer
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) take() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.b.String()
	s.b.Reset()
	return out
}

type graphCounts struct{ compiles, runs int }

func countGraphs(f func() error) (graphCounts, error) {
	klogOnce.Do(func() {
		klogFlags = flag.NewFlagSet("klog", flag.ContinueOnError)
		klog.InitFlags(klogFlags)
		for k, v := range map[string]string{"logtostderr": "false", "alsologtostderr": "false", "stderrthreshold": "FATAL", "v": "0"} {
			_ = klogFlags.Set(k, v)
		}
		klog.SetOutput(&klogBuf)
	})
	klog.Flush()
	klogBuf.take()
	_ = klogFlags.Set("v", "1")
	err := f()
	_ = klogFlags.Set("v", "0")
	klog.Flush()
	log := klogBuf.take()
	return graphCounts{compiles: strings.Count(log, "Graph.Compile time"), runs: strings.Count(log, "Graph.RunWithBuffers")}, err
}
