//go:build xla

package srppo

// Linking the XLA backend needs cgo; it is opt-in so that the default build stays pure Go.
import "github.com/gomlx/go-xla/compute/xla"

// xlaCompiledIn reports whether the XLA backend is linked into this binary (build tag "xla").
const xlaCompiledIn = true

// go-xla reads GOMLX_NO_AUTO_INSTALL in its own init, before NewBackend runs, so plugin
// downloads are switched off here: a plugin must be named explicitly (GOMLX_BACKEND=xla:<name or path>).
func init() { xla.EnableAutoInstall(false) }
