package srppo

import (
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"
)

// DefaultBackend is the backend configuration used when GOMLX_BACKEND is unset: GoMLX's pure-Go
// backend with unlimited parallelism. The Go backend's default scheduler (parallelism = 2×cores)
// deadlocks intermittently on 2-core machines (nested worker-pool saturation), so it is never used.
const DefaultBackend = "go:parallelism=-1"

var (
	backendOnce sync.Once
	backendVal  compute.Backend
	backendErr  error
)

// Backend returns the process-wide compute backend, created on first use from GOMLX_BACKEND or,
// when that is unset, from DefaultBackend. It never falls through to XLA's automatic plugin
// download: XLA is only used when asked for explicitly, and only in binaries built with `-tags xla`.
func Backend() (compute.Backend, error) {
	backendOnce.Do(func() {
		backendVal, backendErr = NewBackend(os.Getenv(compute.ConfigEnvVar))
	})
	return backendVal, backendErr
}

// NewBackend creates a backend from a "name:options" configuration ("" means DefaultBackend).
func NewBackend(config string) (b compute.Backend, err error) {
	if config == "" {
		config = DefaultBackend
	}
	name, _, _ := strings.Cut(config, ":")
	switch {
	case name == gobackend.BackendName:
	case name == "xla" && !xlaCompiledIn:
		return nil, fmt.Errorf("backend %q: this binary was built without XLA support; rebuild with `go build -tags xla` (needs cgo and a PJRT plugin)", config)
	case name != "xla":
		return nil, fmt.Errorf("unknown backend %q in %s=%q: use %q or xla:<plugin name or absolute path>", name, compute.ConfigEnvVar, config, DefaultBackend)
	}
	defer func() {
		// compute.NewWithConfig panics on some configuration errors; report them as errors.
		if r := recover(); r != nil {
			err = fmt.Errorf("creating backend %q: %v", config, r)
		}
	}()
	quietStdout(func() { b, err = compute.NewWithConfig(config) })
	return b, err
}

// quietStdout runs fn with os.Stdout on the null device: the Go backend prints "Go backend:
// parallelism set to -1" when created, which would be a line in every notebook cell's output
// and in every command's. Backends are created once, at start-up, before any output of ours.
func quietStdout(fn func()) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		fn()
		return
	}
	saved := os.Stdout
	os.Stdout = null
	defer func() {
		os.Stdout = saved
		null.Close()
	}()
	fn()
}
