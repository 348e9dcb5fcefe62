// Elementwise kernels the training profile shows next: GELU (erf form) forward and backward, each one
// pass over the data instead of a chain of wasm kernels; softmax rows; a bias added to every row and its
// gradient (a sum over the leading axes).
#include <algorithm>
#include <cmath>
#include <vector>
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

// y = x·Φ(x), Φ(x) = (1 + erf(x/√2))/2
static void gelu_scalar(const float* __restrict x, float* __restrict y, long lo, long hi) {
  for (long i = lo; i < hi; i++) y[i] = x[i] * 0.5f * (1.f + erf_fast(x[i] * 0.70710678118654752f));
}

// dx = dy·(Φ(x) + x·φ(x)), φ(x) = exp(−x²/2)/√(2π)
static void gelu_grad_scalar(const float* __restrict x, const float* __restrict dy, float* __restrict dx, long lo,
                            long hi) {
  for (long i = lo; i < hi; i++) {
    const float v = x[i];
    const float cdf = 0.5f * (1.f + erf_fast(v * 0.70710678118654752f));
    const float pdf = exp_fast(-0.5f * v * v) * 0.39894228040143268f;
    dx[i] = dy[i] * (cdf + v * pdf);
  }
}

// GELU by explicit vectors: GCC keeps the scalar loop's clamps as branches (no -ffinite-math-only), so it
// would not vectorise, and scalar GELU took ~4 ms a million elements — compute-bound, a fifth of a small
// transformer's step. Vector exp and erf below are the scalar ones lane by lane (same constants, same
// clamps; the backward reuses erf's exp(−x²/2) for φ); the scalar loops above finish each range's tail.
#if defined(__x86_64__)
#define FLOE_VECTOR_MATH 1
#include <immintrin.h>

#define FLOE_EXP_ERF(V, PS, TARGET, SET1, SET1I, FLOOR, FMADD, FNMADD, FMSUB, ADD, SUB, MUL, DIV, MIN, MAX, AND, OR, \
                     CAST_PS, CVT, SLLI, ADDI, HMAX, HSUM)                                                             \
  TARGET static inline V exp_##PS(V x) {                                                                            \
    x = MIN(SET1(88.f), MAX(SET1(-87.f), x));                                                                       \
    const V fn = FLOOR(FMADD(x, SET1(1.44269504088896341f), SET1(0.5f)));                                           \
    V r = FNMADD(fn, SET1(0.693359375f), x);                                                                        \
    r = FNMADD(fn, SET1(-2.12194440e-4f), r);                                                                       \
    V p = SET1(1.9875691500e-4f);                                                                                   \
    p = FMADD(p, r, SET1(1.3981999507e-3f));                                                                        \
    p = FMADD(p, r, SET1(8.3334519073e-3f));                                                                        \
    p = FMADD(p, r, SET1(4.1665795894e-2f));                                                                        \
    p = FMADD(p, r, SET1(1.6666665459e-1f));                                                                        \
    p = FMADD(p, r, SET1(5.0000001201e-1f));                                                                        \
    p = FMADD(MUL(p, r), r, ADD(r, SET1(1.f)));                                                                     \
    const V scale = CAST_PS(SLLI(ADDI(CVT(fn), SET1I(127)), 23));                                                   \
    return MUL(p, scale);                                                                                           \
  }                                                                                                                 \
  /* erf(x) and, through e, exp(−x²) for the caller. */                                                             \
  TARGET static inline V erf_##PS(V x, V* e) {                                                                      \
    const V sign = AND(x, CAST_PS(SET1I((int)0x80000000u)));                                                        \
    const V a = AND(x, CAST_PS(SET1I(0x7fffffff)));                                                                 \
    const V t = DIV(SET1(1.f), FMADD(SET1(0.3275911f), a, SET1(1.f)));                                              \
    V poly = FMADD(t, SET1(1.061405429f), SET1(-1.453152027f));                                                     \
    poly = FMADD(t, poly, SET1(1.421413741f));                                                                      \
    poly = FMADD(t, poly, SET1(-0.284496736f));                                                                     \
    poly = FMADD(t, poly, SET1(0.254829592f));                                                                      \
    poly = MUL(t, poly);                                                                                            \
    *e = exp_##PS(MUL(SUB(SET1(0.f), a), a));                                                                       \
    return OR(FNMADD(poly, *e, SET1(1.f)), sign);                                                                   \
  }                                                                                                                 \
  TARGET static void gelu_##PS(const float* __restrict x, float* __restrict y, long lo, long hi) {                  \
    constexpr long W = sizeof(V) / sizeof(float);                                                                   \
    long i = lo;                                                                                                    \
    for (; i + W <= hi; i += W) {                                                                                   \
      const V v = LOAD(x + i);                                                                                      \
      V e;                                                                                                          \
      const V erf = erf_##PS(MUL(v, SET1(0.70710678118654752f)), &e);                                               \
      STORE(y + i, MUL(MUL(v, SET1(0.5f)), ADD(SET1(1.f), erf)));                                                   \
    }                                                                                                               \
    gelu_scalar(x, y, i, hi);                                                                                        \
  }                                                                                                                 \
  /* out[0..keep) = softmax(scale·in[0..keep)); in may be out. */                                                 \
  TARGET static void softmax_row_##PS(const float* in, float* out, long keep, float scale) {                        \
    constexpr long W = sizeof(V) / sizeof(float);                                                                   \
    const V s = SET1(scale);                                                                                        \
    V vmax = SET1(-INFINITY);                                                                                       \
    long j = 0;                                                                                                     \
    for (; j + W <= keep; j += W) vmax = MAX(vmax, MUL(LOAD(in + j), s));                                          \
    float mx = HMAX(vmax);                                                                                          \
    for (; j < keep; j++) mx = std::max(mx, in[j] * scale);                                                         \
    const V m = SET1(mx);                                                                                           \
    V vsum = SET1(0.f);                                                                                             \
    for (j = 0; j + W <= keep; j += W) {                                                                            \
      const V e = exp_##PS(FMSUB(LOAD(in + j), s, m));                                                             \
      STORE(out + j, e);                                                                                           \
      vsum = ADD(vsum, e);                                                                                          \
    }                                                                                                               \
    float sum = HSUM(vsum);                                                                                         \
    for (; j < keep; j++) sum += (out[j] = exp_fast(in[j] * scale - mx));                                          \
    const float inv = 1.f / sum;                                                                                    \
    for (j = 0; j + W <= keep; j += W) STORE(out + j, MUL(LOAD(out + j), SET1(inv)));                               \
    for (; j < keep; j++) out[j] *= inv;                                                                            \
  }                                                                                                                 \
  TARGET static void gelu_grad_##PS(const float* __restrict x, const float* __restrict dy, float* __restrict dx,    \
                                    long lo, long hi) {                                                             \
    constexpr long W = sizeof(V) / sizeof(float);                                                                   \
    long i = lo;                                                                                                    \
    for (; i + W <= hi; i += W) {                                                                                   \
      const V v = LOAD(x + i);                                                                                      \
      V e; /* exp(−(v/√2)²) = exp(−v²/2) */                                                                         \
      const V cdf = MUL(SET1(0.5f), ADD(SET1(1.f), erf_##PS(MUL(v, SET1(0.70710678118654752f)), &e)));              \
      const V pdf = MUL(e, SET1(0.39894228040143268f));                                                             \
      STORE(dx + i, MUL(LOAD(dy + i), FMADD(v, pdf, cdf)));                                                         \
    }                                                                                                               \
    gelu_grad_scalar(x, dy, dx, i, hi);                                                                              \
  }

__attribute__((target("avx2,fma"))) static inline float hmax256(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}
__attribute__((target("avx2,fma"))) static inline float hsum256(__m256 v) {
  __m128 m = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_add_ps(m, _mm_movehl_ps(m, m));
  m = _mm_add_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}

#define LOAD _mm512_loadu_ps
#define STORE _mm512_storeu_ps
#define FLOOR512(v) _mm512_roundscale_ps(v, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC)
FLOE_EXP_ERF(__m512, avx512, __attribute__((target("avx512f,avx512dq"))), _mm512_set1_ps, _mm512_set1_epi32, FLOOR512,
             _mm512_fmadd_ps, _mm512_fnmadd_ps, _mm512_fmsub_ps, _mm512_add_ps, _mm512_sub_ps, _mm512_mul_ps,
             _mm512_div_ps, _mm512_min_ps, _mm512_max_ps, _mm512_and_ps, _mm512_or_ps, _mm512_castsi512_ps,
             _mm512_cvtps_epi32, _mm512_slli_epi32, _mm512_add_epi32, _mm512_reduce_max_ps, _mm512_reduce_add_ps)
#undef LOAD
#undef STORE
#define LOAD _mm256_loadu_ps
#define STORE _mm256_storeu_ps
#define FLOOR256(v) _mm256_floor_ps(v)
FLOE_EXP_ERF(__m256, avx2, __attribute__((target("avx2,fma"))), _mm256_set1_ps, _mm256_set1_epi32, FLOOR256,
             _mm256_fmadd_ps, _mm256_fnmadd_ps, _mm256_fmsub_ps, _mm256_add_ps, _mm256_sub_ps, _mm256_mul_ps,
             _mm256_div_ps, _mm256_min_ps, _mm256_max_ps, _mm256_and_ps, _mm256_or_ps, _mm256_castsi256_ps,
             _mm256_cvtps_epi32, _mm256_slli_epi32, _mm256_add_epi32, hmax256, hsum256)
#undef LOAD
#undef STORE
#endif

// The addon's instruction set (force_isa lowers it, so tests reach every path).
static int vector_width() {
#ifdef FLOE_VECTOR_MATH
  const char* name = isa();
  if (std::strcmp(name, "avx512") == 0) return 16;
  if (std::strcmp(name, "avx2") == 0) return 8;
#endif
  return 1;
}

// Each kernel's loop body for that instruction set, the scalar one where there are no vectors.
template <typename F>
static F for_isa(F avx512, F avx2, F scalar) {
  const int width = vector_width();
  return width == 16 ? avx512 : width == 8 ? avx2 : scalar;
}
#ifdef FLOE_VECTOR_MATH
#define FLOE_FOR_ISA(name) for_isa(name##_avx512, name##_avx2, name##_scalar)
#else
#define FLOE_FOR_ISA(name) name##_scalar
#endif

using GeluRange = void (*)(const float*, float*, long, long);
using GeluGradRange = void (*)(const float*, const float*, float*, long, long);

void gelu_forward(const float* x, float* y, long n) {
  const GeluRange range = FLOE_FOR_ISA(gelu);
  parallel_for((int)((n + 4095) / 4096), [&](int begin, int end) {
    range(x, y, (long)begin * 4096, std::min(n, (long)end * 4096));
  });
}

void gelu_backward(const float* x, const float* dy, float* dx, long n) {
  const GeluGradRange range = FLOE_FOR_ISA(gelu_grad);
  parallel_for((int)((n + 4095) / 4096), [&](int begin, int end) {
    range(x, dy, dx, (long)begin * 4096, std::min(n, (long)end * 4096));
  });
}

// out[0..keep) = softmax(scale·in[0..keep)), one pass for the maximum, one for exp and sum, one to
// normalise; in the addon's widest vectors (exp as exp_fast, lane by lane). `in` may be `out`.
using SoftmaxRow = void (*)(const float*, float*, long, float);
static void softmax_row_scalar(const float* in, float* out, long keep, float scale) {
  float mx = -INFINITY;
  for (long j = 0; j < keep; j++) mx = std::max(mx, in[j] * scale);
  float sum = 0.f;
  for (long j = 0; j < keep; j++) sum += (out[j] = exp_fast(in[j] * scale - mx));
  const float inv = 1.f / sum;
  for (long j = 0; j < keep; j++) out[j] *= inv;
}
static SoftmaxRow softmax_row() { return FLOE_FOR_ISA(softmax_row); }

// Softmax of each row of `rows` × `cols` (leading dimension ld ≥ cols), in place, after scaling by `scale`.
// Rows split across the thread pool.
void softmax_rows(float* x, long rows, long cols, long ld, float scale) {
  const SoftmaxRow row = softmax_row();
  parallel_for((int)((rows + 63) / 64), [&](int begin, int end) {
    const long lo = (long)begin * 64, hi = std::min(rows, (long)end * 64);
    for (long r = lo; r < hi; r++) row(x + r * ld, x + r * ld, cols, scale);
  });
}

// Attention's causal softmax over the last two axes of [..., T, T] scores: row i of each T × T matrix
// keeps columns j ≤ i, y = softmax(scale·x) there and 0 beyond (as adding a −1e9 mask would give).
void causal_softmax_forward(const float* x, float* y, long rows, int T, float scale) {
  const SoftmaxRow row = softmax_row();
  parallel_for((int)((rows + 63) / 64), [&](int begin, int end) {
    const long lo = (long)begin * 64, hi = std::min(rows, (long)end * 64);
    for (long r = lo; r < hi; r++) {
      const int keep = (int)(r % T) + 1;
      row(x + r * T, y + r * T, keep, scale);
      std::fill(y + r * T + keep, y + (r + 1) * T, 0.f);
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

// out[c] = Σ_r x[r·cols + c]: a sum over the leading axes (a bias's gradient), which the wasm Sum reaches only by
// transposing the whole tensor first. Rows are summed in blocks of a size the shape alone decides into double
// partials, then the partials in block order: the result does not depend on the thread count.
void sum_leading(const float* x, float* out, long rows, long cols) {
  const long blockRows = std::max(256L, (rows + 255) / 256);
  const long blocks = (rows + blockRows - 1) / blockRows;
  std::vector<double> partial((size_t)(blocks * cols), 0.0);
  parallel_for((int)blocks, [&](int b0, int b1) {
    for (long b = b0; b < b1; b++) {
      double* p = partial.data() + (size_t)b * cols;
      const long last = std::min(rows, (b + 1) * blockRows);
      for (long r = b * blockRows; r < last; r++) {
        const float* row = x + (size_t)r * cols;
        for (long c = 0; c < cols; c++) p[c] += row[c];
      }
    }
  });
  for (long c = 0; c < cols; c++) {
    double s = 0;
    for (long b = 0; b < blocks; b++) s += partial[(size_t)b * cols + c];
    out[c] = (float)s;
  }
}

// y[r·cols + c] = a[r·cols + c] + bias[c]: a bias added to every row, split over the threads by rows.
void add_bias(const float* a, const float* bias, float* y, long rows, long cols) {
  parallel_for((int)rows, [&](int r0, int r1) {
    for (long r = r0; r < r1; r++) {
      const float* in = a + (size_t)r * cols;
      float* o = y + (size_t)r * cols;
      for (long c = 0; c < cols; c++) o[c] = in[c] + bias[c];
    }
  });
}

}  // namespace floe
