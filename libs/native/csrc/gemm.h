// floe's native kernels: a cache-blocked, packed, multi-threaded SGEMM with AVX-512, AVX2/FMA and
// portable micro-kernels chosen at run time.
#pragma once
#include <cstddef>

namespace floe {

// C[M×N] = alpha·op(A)·op(B) + beta·C, row-major. op(A) is M×K: A[i·lda + k], or A[k·lda + i] when
// transA. op(B) is K×N: B[k·ldb + j], or B[j·ldb + k] when transB. Transposes cost nothing extra:
// they only change how the panels are packed.
void sgemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
           float beta, float* C, int ldc);

void set_threads(int n);
int get_threads();
// "avx512", "avx2" or "portable".
const char* isa();
void force_isa(const char* name);

}  // namespace floe
