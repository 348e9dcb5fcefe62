// Elementwise kernels the training profile shows next: GELU (erf form) forward and backward, each one
// pass over the data instead of a chain of wasm kernels.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "gemm.h"

namespace floe {

// exp(x) for x in [−87, 88] (clamped), Cephes' expf: range reduction by ln 2 and a degree-6 polynomial,
// within 2 ulp of std::exp; with erf_fast below, GELU runs ~2x faster than through libm's exp and erf.
static inline float exp_fast(float x) {
  x = std::min(88.f, std::max(-87.f, x));
  const float fn = std::floor(x * 1.44269504088896341f + 0.5f);
  float r = x - fn * 0.693359375f;
  r = r - fn * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.f;
  const int bits = ((int)fn + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

// erf(x) by Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e−7, float32's resolution near 1), odd in x.
static inline float erf_fast(float x) {
  const float a = std::fabs(x);
  const float t = 1.f / (1.f + 0.3275911f * a);
  const float poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
  return std::copysign(1.f - poly * exp_fast(-a * a), x);
}

// One loop body per instruction set (GCC's target_clones picks at load time; the addon still loads on any
// x86-64).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define FLOE_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FLOE_CLONES
#endif

// y = x·Φ(x), Φ(x) = (1 + erf(x/√2))/2
FLOE_CLONES static void gelu_range(const float* __restrict x, float* __restrict y, long lo, long hi) {
  for (long i = lo; i < hi; i++) y[i] = x[i] * 0.5f * (1.f + erf_fast(x[i] * 0.70710678118654752f));
}

// dx = dy·(Φ(x) + x·φ(x)), φ(x) = exp(−x²/2)/√(2π)
FLOE_CLONES static void gelu_grad_range(const float* __restrict x, const float* __restrict dy, float* __restrict dx,
                                        long lo, long hi) {
  for (long i = lo; i < hi; i++) {
    const float v = x[i];
    const float cdf = 0.5f * (1.f + erf_fast(v * 0.70710678118654752f));
    const float pdf = exp_fast(-0.5f * v * v) * 0.39894228040143268f;
    dx[i] = dy[i] * (cdf + v * pdf);
  }
}

void gelu_forward(const float* x, float* y, long n) {
  parallel_for((int)((n + 4095) / 4096), [&](int begin, int end) {
    gelu_range(x, y, (long)begin * 4096, std::min(n, (long)end * 4096));
  });
}

void gelu_backward(const float* x, const float* dy, float* dx, long n) {
  parallel_for((int)((n + 4095) / 4096), [&](int begin, int end) {
    gelu_grad_range(x, dy, dx, (long)begin * 4096, std::min(n, (long)end * 4096));
  });
}

// Softmax of each row of `rows` × `cols` (leading dimension ld ≥ cols), in place, after scaling by `scale`:
// one pass for the maximum, one for exp and sum, one to normalise. Rows split across the thread pool.
void softmax_rows(float* x, long rows, long cols, long ld, float scale) {
  parallel_for((int)((rows + 63) / 64), [&](int begin, int end) {
    const long lo = (long)begin * 64, hi = std::min(rows, (long)end * 64);
    for (long r = lo; r < hi; r++) {
      float* row = x + r * ld;
      float mx = -INFINITY;
      for (long j = 0; j < cols; j++) mx = std::max(mx, row[j] * scale);
      float sum = 0.f;
      for (long j = 0; j < cols; j++) {
        const float e = std::exp(row[j] * scale - mx);
        row[j] = e;
        sum += e;
      }
      const float inv = 1.f / sum;
      for (long j = 0; j < cols; j++) row[j] *= inv;
    }
  });
}

// Attention's causal softmax over the last two axes of [..., T, T] scores: row i of each T × T matrix
// keeps columns j ≤ i, y = softmax(scale·x) there and 0 beyond (as adding a −1e9 mask would give).
void causal_softmax_forward(const float* x, float* y, long rows, int T, float scale) {
  parallel_for((int)((rows + 63) / 64), [&](int begin, int end) {
    const long lo = (long)begin * 64, hi = std::min(rows, (long)end * 64);
    for (long r = lo; r < hi; r++) {
      const int keep = (int)(r % T) + 1;
      const float* xr = x + r * T;
      float* yr = y + r * T;
      float mx = -INFINITY;
      for (int j = 0; j < keep; j++) mx = std::max(mx, xr[j] * scale);
      float sum = 0.f;
      for (int j = 0; j < keep; j++) {
        yr[j] = std::exp(xr[j] * scale - mx);
        sum += yr[j];
      }
      const float inv = 1.f / sum;
      for (int j = 0; j < keep; j++) yr[j] *= inv;
      for (int j = keep; j < T; j++) yr[j] = 0.f;
    }
  });
}

// dx = scale·y·(dy − Σ_k dy_k·y_k) on the kept columns, 0 beyond.
void causal_softmax_backward(const float* y, const float* dy, float* dx, long rows, int T, float scale) {
  parallel_for((int)((rows + 63) / 64), [&](int begin, int end) {
    const long lo = (long)begin * 64, hi = std::min(rows, (long)end * 64);
    for (long r = lo; r < hi; r++) {
      const int keep = (int)(r % T) + 1;
      const float* yr = y + r * T;
      const float* dyr = dy + r * T;
      float* dxr = dx + r * T;
      float dot = 0.f;
      for (int j = 0; j < keep; j++) dot += dyr[j] * yr[j];
      for (int j = 0; j < keep; j++) dxr[j] = scale * yr[j] * (dyr[j] - dot);
      for (int j = keep; j < T; j++) dxr[j] = 0.f;
    }
  });
}

}  // namespace floe
