import COpenBLAS

/// The one place the engine touches OpenBLAS: its GEMM and its process-wide settings. The engine's own
/// thread count is `Parallel`'s, which keeps OpenBLAS's at one thread through `setLibraryThreads`.
public enum BLAS {
    /// Row-major C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C, with leading dimensions given.
    @inline(__always)
    public static func sgemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        // With beta = 0 OpenBLAS first zeroes C one float per store (`sgemm_beta_ZEN`: 5 % of a MobileNetV1
        // inference, 2 % of its training); zeroing C here by memset and adding the product onto it gives
        // the same numbers.
        if beta == 0 {
            if ldc == n {
                c.update(repeating: 0, count: m * n)
            } else {
                for row in 0..<m { (c + row * ldc).update(repeating: 0, count: n) }
            }
        }
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta == 0 ? 1 : beta,
            c, blasint(ldc))
    }

    /// OpenBLAS's own thread count: 1 while the engine runs (`Parallel` sets it), more only for measuring
    /// OpenBLAS alone (`cnntui bench`'s sgemm figure), after which `Parallel.setThreads` puts it back to 1.
    public static func setLibraryThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }
    /// OpenBLAS's kernel for this CPU (`Haswell`, `SkylakeX`, `Cooperlake`, ...), as chosen at load time.
    public static var coreName: String { String(cString: openblas_get_corename()) }
}
