//go:build !unix

package lockfile

// pidAlive cannot tell on this OS: staleness falls back to the heartbeat's age.
func pidAlive(pid int) (alive, known bool) { return false, false }

// procStart is unknown on this OS.
func procStart(pid int) string { return "" }
