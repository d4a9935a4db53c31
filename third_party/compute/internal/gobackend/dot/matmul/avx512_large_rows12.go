// gosrppo patch: a 12-row micro-kernel (assembly) for avx512LargeKernelFloat32.

//go:build amd64 && goexperiment.simd

package matmul

// avx512Kernel12x32Float32 is in avx512_kernel12x32_amd64.s.
//
//go:noescape
func avx512Kernel12x32Float32(lhs, rhs, out *float32, contractingLen, outStride int)

// largeKernel12Rows enables avx512LargeKernel12RowsFloat32; its test compares against the 4-row kernel.
var largeKernel12Rows = true

// avx512LargeKernel12RowsFloat32 computes the packed output rows [0, n) of avx512LargeKernelFloat32,
// three of its 4-row LHS strips at a time, and returns n: every triple of strips whose third strip
// has an active row. Each output lane is the same chain of fused multiply-adds over the contracting
// axis, in the same order, as in the 4-row kernel, so the results are the same bit for bit. The Go
// kernel keeps 8 accumulators and copies a register around each FMA (the compiler's FMA overwrites a
// multiplicand); the assembly keeps 24 accumulators in registers, takes the LHS values as broadcast
// memory operands and has no copies, so it issues about a third of the instructions per FMA.
func avx512LargeKernel12RowsFloat32(packedLHS, packedRHS, packedOutput []float32,
	rhsPanelCols, contractingLen, lhsActiveRows, rhsActiveCols int) int {
	const stripRows, cols = 4, 32
	if !largeKernel12Rows || contractingLen == 0 {
		return 0
	}
	rows := 0
	for ; rows+2*stripRows < lhsActiveRows; rows += 3 * stripRows {
		// Bounds of what the assembly reads and writes for this triple (it does not check them).
		lastCol := (rhsActiveCols - 1) / cols * cols
		_ = packedLHS[(rows+3*stripRows)*contractingLen-1]
		_ = packedRHS[(lastCol+cols)*contractingLen-1]
		_ = packedOutput[(rows+3*stripRows-1)*rhsPanelCols+lastCol+cols-1]
		for col := 0; col < rhsActiveCols; col += cols {
			avx512Kernel12x32Float32(&packedLHS[rows*contractingLen], &packedRHS[col*contractingLen],
				&packedOutput[rows*rhsPanelCols+col], contractingLen, rhsPanelCols)
		}
	}
	return rows
}
