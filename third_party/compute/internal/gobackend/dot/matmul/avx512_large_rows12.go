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
	const stripRows = 4
	if !largeKernel12Rows || contractingLen == 0 || rhsActiveCols == 0 {
		return 0
	}
	rows := 0
	for rows+2*stripRows < lhsActiveRows { // the third strip of the triple has an active row
		rows += 3 * stripRows
	}
	// Columns as the 4-row kernel does them: whole 32-column strips of the packed RHS.
	cols := (rhsActiveCols + asmBlockCols - 1) / asmBlockCols * asmBlockCols
	if rows > 0 {
		kernel12x32Blocks(avx512Kernel12x32Float32, packedLHS, packedRHS, packedOutput, rows, cols, contractingLen, 0, 0, rhsPanelCols)
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
	if !largeKernel12Rows || panelRows%asmBlockRows != 0 || panelCols%asmBlockCols != 0 || contractingLen == 0 || panelRows == 0 || panelCols == 0 {
		return false
	}
	kernel := avx512Kernel12x32AddFloat32
	if firstContractingPanel {
		kernel = avx512Kernel12x32Float32
	}
	kernel12x32Blocks(kernel, packedLHS, packedRHS, output, panelRows, panelCols, contractingLen, rowStart, colStart, outputCols)
	return true
}

// The assembly kernels' block: asmBlockRows × asmBlockCols outputs.
const asmBlockRows, asmBlockCols = 12, 32

// kernel12x32Blocks runs kernel on every asmBlockRows × asmBlockCols block of a rows × cols product (both
// multiples of the block) whose operands are packed as avx512LargeKernelFloat32 reads them, writing
// the block at output row rowStart + r, column colStart + c, rows outputCols apart. It checks the
// bounds that the assembly, which checks none, will touch.
func kernel12x32Blocks(kernel func(lhs, rhs, out *float32, contractingLen, outStride int),
	packedLHS, packedRHS, output []float32, rows, cols, contractingLen, rowStart, colStart, outputCols int) {
	_ = packedLHS[rows*contractingLen-1]
	_ = packedRHS[cols*contractingLen-1]
	_ = output[(rowStart+rows-1)*outputCols+colStart+cols-1]
	for r := 0; r < rows; r += asmBlockRows {
		for c := 0; c < cols; c += asmBlockCols {
			kernel(&packedLHS[r*contractingLen], &packedRHS[c*contractingLen],
				&output[(rowStart+r)*outputCols+colStart+c], contractingLen, outputCols)
		}
	}
}
