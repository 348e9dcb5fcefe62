// floe's native kernels: a cache-blocked, packed, multi-threaded SGEMM with AVX-512, AVX2/FMA and
// portable micro-kernels chosen at run time.
#pragma once
#include <cstddef>
#include <functional>

namespace floe {

// C[M×N] = alpha·op(A)·op(B) + beta·C, row-major. op(A) is M×K: A[i·lda + k], or A[k·lda + i] when
// transA. op(B) is K×N: B[k·ldb + j], or B[j·ldb + k] when transB. Transposes cost nothing extra:
// they only change how the panels are packed.
void sgemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
           float beta, float* C, int ldc);

// The same over a batch; strides in elements (0 broadcasts). Small products run one per thread.
void sgemm_batched(int batch, bool transA, bool transB, int M, int N, int K, float alpha, const float* A, long strideA, int lda,
                   const float* B, long strideB, int ldb, float beta, float* C, long strideC, int ldc);

void parallel_for(int n, const std::function<void(int, int)>& body);
void parallel_for_chunks(int n, const std::function<void(int)>& fn);

void set_threads(int n);
// Each pool thread runs its own task index instead of claiming the next one (the pool before; a baseline).
void set_static_schedule(bool on);
int get_threads();
// SCHED_IDLE for the calling thread and, from their next job on, the pool's workers (Linux only).
bool idle_scheduling();
// "avx512", "avx2" or "portable".
const char* isa();
void force_isa(const char* name);

}  // namespace floe

namespace floe {
// out = transpose(in, perm) for rank ≤ 8; shape is the input's. Rows of the output's last axis are
// split over the threads.
void transpose(const float* in, float* out, const int* shape, const int* perm, int rank);
}  // namespace floe

namespace floe {
// NHWC convolution (or pooling) geometry: input b×h×w×c, window fh×fw, strides, dilations, padding,
// output oh×ow.
struct ConvGeometry {
  int b, h, w, c, fh, fw, sh, sw, dh, dw, padTop, padLeft, oh, ow;
};
void im2col(const float* x, float* cols, const ConvGeometry& g);
void col2im(const float* dcols, float* dx, const ConvGeometry& g);
void max_pool_grad(const float* x, const float* dy, float* dx, const ConvGeometry& g);
}  // namespace floe

namespace floe {
void gelu_forward(const float* x, float* y, long n);
void gelu_backward(const float* x, const float* dy, float* dx, long n);
void softmax_rows(float* x, long rows, long cols, long ld, float scale);
void causal_softmax_forward(const float* x, float* y, long rows, int T, float scale);
void causal_softmax_backward(const float* y, const float* dy, float* dx, long rows, int T, float scale);
void sum_leading(const float* x, float* out, long rows, long cols);
void add_bias(const float* a, const float* bias, float* y, long rows, long cols);
}  // namespace floe

namespace floe {
// Mamba's selective scan over whole sequences (scan.cc): u, delta [B,T,D]; A [D,N]; Bm, Cm [B,T,N].
void selective_scan_forward(const float* u, const float* delta, const float* A, const float* Bm, const float* Cm, float* y,
                            int B, int T, int D, int N);
void causal_conv1d_forward(const float* x, const float* w, const float* bias, float* y, int B, int T, int D, int K);
void causal_conv1d_backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* dbias, int B, int T,
                            int D, int K);
void selective_scan_backward(const float* u, const float* delta, const float* A, const float* Bm, const float* Cm,
                             const float* dy, float* du, float* ddelta, float* dA, float* dB, float* dC, int B, int T, int D,
                             int N);
}  // namespace floe

namespace floe {
// Fused training kernels (fused.cc).
void norm_forward(const float* x, const float* gain, const float* bias, float* y, float* mean, float* rstd, long rows, int D,
                  float eps, bool center);
void norm_backward(const float* dy, const float* x, const float* gain, const float* mean, const float* rstd, float* dx,
                   float* dgain, float* dbias, long rows, int D, bool center);
struct AdamStep {
  float lr, beta1, beta2, oneMinusBeta1, oneMinusBeta2, eps, weightDecay, scale, correction1, correction2;
  bool decoupled;
};
void adam_update(const float* p, const float* g, const float* m, const float* v, float* pOut, float* mOut, float* vOut, long n,
                 const AdamStep& step);
void sum_squares(const float* const* xs, const long* sizes, int count, double* out);
double xent_forward(const float* logits, const float* targets, float* probs, long rows, int V);
void xent_backward(const float* probs, const float* targets, float dLoss, float* dlogits, long rows, int V);
}  // namespace floe
