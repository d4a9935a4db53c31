//go:build xla

package srppo

// Linking the XLA backend needs cgo; it is opt-in so that the default build stays pure Go.
import _ "github.com/gomlx/go-xla/compute/xla"

// xlaCompiledIn reports whether the XLA backend is linked into this binary (build tag "xla").
const xlaCompiledIn = true
