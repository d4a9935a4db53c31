// gosrppo patch: scalar builds of exact32.go's kernels.

//go:build !(amd64 && goexperiment.simd)

package fastmath

func tanhFloat32sVector(out, in []float32) int     { return 0 }
func geluTanhFloat32sVector(out, in []float32) int { return 0 }
func expFloat32sVector(out, in []float32) int      { return 0 }
func sqrtFloat32sVector(out, in []float32) int     { return 0 }
