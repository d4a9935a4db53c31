// gosrppo patch: a 12-row micro-kernel (assembly) for avx512LargeKernelFloat32.

//go:build amd64 && goexperiment.simd

package matmul

// avx512Kernel12x32Float32 is in avx512_kernel12x32_amd64.s.
//
//go:noescape
func avx512Kernel12x32Float32(lhs, rhs, out *float32, contractingLen, outStride int)

// avx512Kernel12x32AddFloat32 is avx512Kernel12x32Float32 adding its block to out instead of
// storing it (avx512_kernel12x32_amd64.s).
//
//go:noescape
func avx512Kernel12x32AddFloat32(lhs, rhs, out *float32, contractingLen, outStride int)

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

// avx512LargeKernelIntoOutputFloat32 does avx512LargeKernelFloat32 and avx512ApplyPackedOutputFloat32
// for one LHS panel and one RHS panel in one pass, when the panel is whole 12-row × 32-column blocks:
// each block's products go straight into the output (stored for the first contracting panel, added
// as block + output after it, the sum the apply step forms), instead of into the packed output and
// then over again into the output. It returns false, doing nothing, for other panels.
func avx512LargeKernelIntoOutputFloat32(packedLHS, packedRHS, output []float32,
	panelRows, panelCols, contractingLen, rowStart, colStart, outputCols int, firstContractingPanel bool) bool {
	const rows, cols = 12, 32
	if !largeKernel12Rows || panelRows%rows != 0 || panelCols%cols != 0 || contractingLen == 0 || panelRows == 0 || panelCols == 0 {
		return false
	}
	_ = packedLHS[panelRows*contractingLen-1]
	_ = packedRHS[panelCols*contractingLen-1]
	_ = output[(rowStart+panelRows-1)*outputCols+colStart+panelCols-1]
	kernel := avx512Kernel12x32AddFloat32
	if firstContractingPanel {
		kernel = avx512Kernel12x32Float32
	}
	for r := 0; r < panelRows; r += rows {
		for c := 0; c < panelCols; c += cols {
			kernel(&packedLHS[r*contractingLen], &packedRHS[c*contractingLen],
				&output[(rowStart+r)*outputCols+colStart+c], contractingLen, outputCols)
		}
	}
	return true
}
