import COpenBLAS

/// The one place the engine touches OpenBLAS. OpenBLAS keeps process-wide state (its thread pool),
/// so thread count is set here once, by whoever owns the process's cores (the trainer or `bench`).
public enum BLAS {
    /// Row-major C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C, with leading dimensions given.
    @inline(__always)
    public static func sgemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }

    /// The engine's thread count: each op splits its work over `n` threads of its own (`Parallel`) and
    /// calls OpenBLAS single-threaded inside each part, so OpenBLAS's threads and ours never run at once.
    public static func setThreads(_ n: Int) { Parallel.setThreads(n) }
    public static var threads: Int { Parallel.threads }
    /// OpenBLAS's own thread count, for measuring OpenBLAS alone (`cnntui bench`'s sgemm figure).
    /// The engine's kernels expect 1: call `setThreads` again before training.
    public static func setLibraryThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }
    /// OpenBLAS's kernel for this CPU (`Haswell`, `SkylakeX`, `Cooperlake`, ...), as chosen at load time.
    public static var coreName: String { String(cString: openblas_get_corename()) }
}
