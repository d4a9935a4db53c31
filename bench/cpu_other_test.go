//go:build !unix

package bench

// processCPU is not measured off Unix: cpu-ms-median reads 0 there.
func processCPU() float64 { return 0 }
