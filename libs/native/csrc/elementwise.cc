// Elementwise kernels the training profile shows next: GELU (erf form) forward and backward, each one
// pass over the data instead of a chain of wasm kernels.
#include <algorithm>
#include <cmath>

#include "gemm.h"

namespace floe {

// y = x·Φ(x), Φ(x) = (1 + erf(x/√2))/2
void gelu_forward(const float* x, float* y, long n) {
  parallel_for((int)((n + 4095) / 4096), [&](int begin, int end) {
    const long lo = (long)begin * 4096, hi = std::min(n, (long)end * 4096);
    for (long i = lo; i < hi; i++) y[i] = x[i] * 0.5f * (1.f + std::erf(x[i] * 0.70710678118654752f));
  });
}

// dx = dy·(Φ(x) + x·φ(x)), φ(x) = exp(−x²/2)/√(2π)
void gelu_backward(const float* x, const float* dy, float* dx, long n) {
  parallel_for((int)((n + 4095) / 4096), [&](int begin, int end) {
    const long lo = (long)begin * 4096, hi = std::min(n, (long)end * 4096);
    for (long i = lo; i < hi; i++) {
      const float v = x[i];
      const float cdf = 0.5f * (1.f + std::erf(v * 0.70710678118654752f));
      const float pdf = std::exp(-0.5f * v * v) * 0.39894228040143268f;
      dx[i] = dy[i] * (cdf + v * pdf);
    }
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
