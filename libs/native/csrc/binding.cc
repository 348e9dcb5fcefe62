// N-API binding. Arrays are used in place (no copies): a Float32Array may be a view on the wasm heap.
#include <node_api.h>

#include <cstring>
#include <string>
#include <vector>

#include "gemm.h"

namespace {

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, nullptr, "floe native: N-API call failed"); \
      return nullptr;                                                 \
    }                                                                 \
  } while (0)

bool get_f32(napi_env env, napi_value v, float** data, size_t* length) {
  napi_typedarray_type type;
  napi_value buffer;
  size_t offset;
  void* raw;
  if (napi_get_typedarray_info(env, v, &type, length, &raw, &buffer, &offset) != napi_ok || type != napi_float32_array) return false;
  *data = static_cast<float*>(raw);
  return true;
}

double num(napi_env env, napi_value v) {
  double d = 0;
  napi_get_value_double(env, v, &d);
  return d;
}

bool boolean(napi_env env, napi_value v) {
  bool b = false;
  napi_get_value_bool(env, v, &b);
  return b;
}

// sgemmBatched(batch, transA, transB, M, N, K, alpha, A, strideA, lda, B, strideB, ldb, beta, C, strideC, ldc)
// Strides are in elements; 0 broadcasts one matrix over the batch. Bounds are checked against the arrays.
napi_value SgemmBatched(napi_env env, napi_callback_info info) {
  size_t argc = 17;
  napi_value a[17];
  CHECK(napi_get_cb_info(env, info, &argc, a, nullptr, nullptr));
  if (argc != 17) {
    napi_throw_type_error(env, nullptr, "sgemmBatched: expected 17 arguments");
    return nullptr;
  }
  const long batch = (long)num(env, a[0]);
  const bool ta = boolean(env, a[1]), tb = boolean(env, a[2]);
  const long M = (long)num(env, a[3]), N = (long)num(env, a[4]), K = (long)num(env, a[5]);
  const float alpha = (float)num(env, a[6]);
  float *A, *B, *C;
  size_t lenA, lenB, lenC;
  if (!get_f32(env, a[7], &A, &lenA) || !get_f32(env, a[10], &B, &lenB) || !get_f32(env, a[14], &C, &lenC)) {
    napi_throw_type_error(env, nullptr, "sgemmBatched: A, B and C must be Float32Arrays");
    return nullptr;
  }
  const long sA = (long)num(env, a[8]), lda = (long)num(env, a[9]);
  const long sB = (long)num(env, a[11]), ldb = (long)num(env, a[12]);
  const float beta = (float)num(env, a[13]);
  const long sC = (long)num(env, a[15]), ldc = (long)num(env, a[16]);
  // The last element each operand touches must lie inside its array.
  const long lastA = (batch - 1) * sA + (ta ? (K - 1) * lda + (M - 1) : (M - 1) * lda + (K - 1));
  const long lastB = (batch - 1) * sB + (tb ? (N - 1) * ldb + (K - 1) : (K - 1) * ldb + (N - 1));
  const long lastC = (batch - 1) * sC + (M - 1) * ldc + (N - 1);
  if (batch < 1 || M < 1 || N < 1 || K < 1 || lastA >= (long)lenA || lastB >= (long)lenB || lastC >= (long)lenC || lastA < 0 || lastB < 0) {
    napi_throw_range_error(env, nullptr, "sgemmBatched: shapes and strides exceed the arrays");
    return nullptr;
  }
  floe::sgemm_batched((int)batch, ta, tb, (int)M, (int)N, (int)K, alpha, A, sA, (int)lda, B, sB, (int)ldb, beta, C, sC, (int)ldc);
  return nullptr;
}

// transpose(in, out, shape: number[], perm: number[])
napi_value Transpose(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value a[4];
  CHECK(napi_get_cb_info(env, info, &argc, a, nullptr, nullptr));
  float *in, *out;
  size_t lenIn, lenOut;
  if (argc != 4 || !get_f32(env, a[0], &in, &lenIn) || !get_f32(env, a[1], &out, &lenOut)) {
    napi_throw_type_error(env, nullptr, "transpose: expected (Float32Array, Float32Array, shape, perm)");
    return nullptr;
  }
  uint32_t rank = 0, prank = 0;
  CHECK(napi_get_array_length(env, a[2], &rank));
  CHECK(napi_get_array_length(env, a[3], &prank));
  if (rank != prank || rank == 0 || rank > 8) {
    napi_throw_range_error(env, nullptr, "transpose: shape and perm must have the same rank, 1 to 8");
    return nullptr;
  }
  int shape[8], perm[8];
  bool seen[8] = {false};
  size_t total = 1;
  for (uint32_t i = 0; i < rank; i++) {
    napi_value v;
    CHECK(napi_get_element(env, a[2], i, &v));
    shape[i] = (int)num(env, v);
    CHECK(napi_get_element(env, a[3], i, &v));
    perm[i] = (int)num(env, v);
    if (shape[i] < 0 || perm[i] < 0 || perm[i] >= (int)rank || seen[perm[i]]) {
      napi_throw_range_error(env, nullptr, "transpose: bad shape or perm");
      return nullptr;
    }
    seen[perm[i]] = true;
    total *= (size_t)shape[i];
  }
  if (total > lenIn || total > lenOut) {
    napi_throw_range_error(env, nullptr, "transpose: the shape exceeds the arrays");
    return nullptr;
  }
  if (total > 0) floe::transpose(in, out, shape, perm, (int)rank);
  return nullptr;
}

// Reads the 14 geometry numbers from a JS array [b,h,w,c,fh,fw,sh,sw,dh,dw,padTop,padLeft,oh,ow].
bool geometry(napi_env env, napi_value arr, floe::ConvGeometry* g) {
  uint32_t n = 0;
  if (napi_get_array_length(env, arr, &n) != napi_ok || n != 14) return false;
  int v[14];
  for (uint32_t i = 0; i < 14; i++) {
    napi_value e;
    if (napi_get_element(env, arr, i, &e) != napi_ok) return false;
    v[i] = (int)num(env, e);
  }
  *g = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13]};
  return g->b > 0 && g->h > 0 && g->w > 0 && g->c > 0 && g->fh > 0 && g->fw > 0 && g->sh > 0 && g->sw > 0 && g->dh > 0 &&
         g->dw > 0 && g->oh > 0 && g->ow > 0;
}

// conv(op, a, b, geometry[, c]): op 0 = im2col(x=a → cols=b), 1 = col2im(dcols=a → dx=b),
// 2 = maxPoolGrad(x=a, dy=b → dx=c).
napi_value Conv(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value a[5];
  CHECK(napi_get_cb_info(env, info, &argc, a, nullptr, nullptr));
  const int op = (int)num(env, a[0]);
  float *p, *q, *r = nullptr;
  size_t lp, lq, lr = 0;
  floe::ConvGeometry g;
  if (argc < 4 || !get_f32(env, a[1], &p, &lp) || !get_f32(env, a[2], &q, &lq) || !geometry(env, a[3], &g) ||
      (op == 2 && (argc < 5 || !get_f32(env, a[4], &r, &lr)))) {
    napi_throw_type_error(env, nullptr, "conv: bad arguments");
    return nullptr;
  }
  const size_t image = (size_t)g.b * g.h * g.w * g.c;
  const size_t cols = (size_t)g.b * g.oh * g.ow * g.fh * g.fw * g.c;
  const size_t pooled = (size_t)g.b * g.oh * g.ow * g.c;
  const bool fits = op == 0 ? (lp >= image && lq >= cols) : op == 1 ? (lp >= cols && lq >= image) : (lp >= image && lq >= pooled && lr >= image);
  if (!fits || op < 0 || op > 2) {
    napi_throw_range_error(env, nullptr, "conv: the geometry exceeds the arrays");
    return nullptr;
  }
  if (op == 0) floe::im2col(p, q, g);
  else if (op == 1) floe::col2im(p, q, g);
  else floe::max_pool_grad(p, q, r, g);
  return nullptr;
}

// gelu(x, y) forward, or gelu(x, y=dx, dy) backward.
napi_value Gelu(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value a[3];
  CHECK(napi_get_cb_info(env, info, &argc, a, nullptr, nullptr));
  float *x, *y, *dy = nullptr;
  size_t lx, ly, ld = 0;
  if (argc < 2 || !get_f32(env, a[0], &x, &lx) || !get_f32(env, a[1], &y, &ly) || (argc == 3 && !get_f32(env, a[2], &dy, &ld)) || ly < lx ||
      (argc == 3 && ld < lx)) {
    napi_throw_type_error(env, nullptr, "gelu: expected Float32Arrays x, out[, dy] of matching sizes");
    return nullptr;
  }
  if (argc == 3) floe::gelu_backward(x, dy, y, (long)lx);
  else floe::gelu_forward(x, y, (long)lx);
  return nullptr;
}

// sumLeading(x, out): out[c] = Σ_r x[r·n + c] for n = out.length (a sum over x's leading axes).
napi_value SumLeading(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value a[2];
  CHECK(napi_get_cb_info(env, info, &argc, a, nullptr, nullptr));
  float *x, *out;
  size_t lx, lo;
  if (argc != 2 || !get_f32(env, a[0], &x, &lx) || !get_f32(env, a[1], &out, &lo) || lo == 0 || lx % lo != 0) {
    napi_throw_type_error(env, nullptr, "sumLeading: expected Float32Arrays x, out with x's size a multiple of out's");
    return nullptr;
  }
  floe::sum_leading(x, out, (long)(lx / lo), (long)lo);
  return nullptr;
}

// addBias(a, bias, out): out[r·n + c] = a[r·n + c] + bias[c] for n = bias.length.
napi_value AddBias(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value a[3];
  CHECK(napi_get_cb_info(env, info, &argc, a, nullptr, nullptr));
  float *x, *bias, *out;
  size_t lx, lb, lo;
  if (argc != 3 || !get_f32(env, a[0], &x, &lx) || !get_f32(env, a[1], &bias, &lb) || !get_f32(env, a[2], &out, &lo) ||
      lb == 0 || lx % lb != 0 || lo < lx) {
    napi_throw_type_error(env, nullptr, "addBias: expected Float32Arrays a, bias, out with a's size a multiple of bias'");
    return nullptr;
  }
  floe::add_bias(x, bias, out, (long)(lx / lb), (long)lb);
  return nullptr;
}

// softmax(x, rows, cols, ld, scale): each row of x (leading dimension ld) in place.
napi_value Softmax(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value a[5];
  CHECK(napi_get_cb_info(env, info, &argc, a, nullptr, nullptr));
  float* x;
  size_t lx;
  if (argc < 5 || !get_f32(env, a[0], &x, &lx)) {
    napi_throw_type_error(env, nullptr, "softmax: expected (Float32Array x, rows, cols, ld, scale)");
    return nullptr;
  }
  const long rows = (long)num(env, a[1]), cols = (long)num(env, a[2]), ld = (long)num(env, a[3]);
  if (rows < 0 || cols < 1 || ld < cols || (rows > 0 && (size_t)((rows - 1) * ld + cols) > lx)) {
    napi_throw_range_error(env, nullptr, "softmax: rows × ld exceeds the array, or cols > ld");
    return nullptr;
  }
  floe::softmax_rows(x, rows, cols, ld, (float)num(env, a[4]));
  return nullptr;
}

// A Float32Array argument of at least `need` elements, or a thrown error naming `what`; null/undefined gives
// nullptr when `optional`.
bool f32_arg(napi_env env, napi_value v, long need, const char* what, float** out, bool optional = false) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (optional && (t == napi_null || t == napi_undefined)) {
    *out = nullptr;
    return true;
  }
  size_t len;
  if (!get_f32(env, v, out, &len)) {
    std::string msg = std::string(what) + " must be a Float32Array";
    napi_throw_type_error(env, nullptr, msg.c_str());
    return false;
  }
  if ((long)len < need) {
    std::string msg = std::string(what) + " is shorter than its shape";
    napi_throw_range_error(env, nullptr, msg.c_str());
    return false;
  }
  return true;
}

// A [b, t, d, k]-like array of four dimensions, each at least 1, or a thrown error naming `what`.
bool dims_arg(napi_env env, napi_value v, const char* what, const char* names, long dims[4]) {
  for (uint32_t i = 0; i < 4; i++) {
    napi_value e;
    if (napi_get_element(env, v, i, &e) != napi_ok) {
      std::string msg = std::string(what) + ": dims must be " + names;
      napi_throw_type_error(env, nullptr, msg.c_str());
      return false;
    }
    dims[i] = (long)num(env, e);
    if (dims[i] < 1) {
      std::string msg = std::string(what) + ": every dimension must be at least 1";
      napi_throw_range_error(env, nullptr, msg.c_str());
      return false;
    }
  }
  return true;
}

// selectiveScan(u, delta, A, B, C, y, [b, t, d, n]) writes y; selectiveScan(u, delta, A, B, C, dy, du, dDelta,
// dA, dB, dC, [b, t, d, n]) writes the five gradients. Every array's length is checked against the shapes.
napi_value SelectiveScan(napi_env env, napi_callback_info info) {
  size_t argc = 12;
  napi_value a[12];
  CHECK(napi_get_cb_info(env, info, &argc, a, nullptr, nullptr));
  const bool backward = argc == 12;
  if (argc != 7 && argc != 12) {
    napi_throw_type_error(env, nullptr, "selectiveScan: expected 7 (forward) or 12 (backward) arguments");
    return nullptr;
  }
  long dims[4];
  if (!dims_arg(env, a[argc - 1], "selectiveScan", "[b, t, d, n]", dims)) return nullptr;
  const long B = dims[0], T = dims[1], D = dims[2], N = dims[3];
  const long btd = B * T * D, dn = D * N, btn = B * T * N;
  // Expected lengths: u, delta, A, B, C, then y (forward) or dy, du, dDelta, dA, dB, dC (backward).
  const long forwardLengths[6] = {btd, btd, dn, btn, btn, btd};
  const long backwardLengths[11] = {btd, btd, dn, btn, btn, btd, btd, btd, dn, btn, btn};
  const long* want = backward ? backwardLengths : forwardLengths;
  float* p[11];
  for (size_t i = 0; i + 1 < argc; i++)
    if (!f32_arg(env, a[i], want[i], "selectiveScan: an array", &p[i])) return nullptr;
  if (backward)
    floe::selective_scan_backward(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], (int)B, (int)T,
                                  (int)D, (int)N);
  else
    floe::selective_scan_forward(p[0], p[1], p[2], p[3], p[4], p[5], (int)B, (int)T, (int)D, (int)N);
  return nullptr;
}

// norm(x, gain, bias | null, y, mean, rstd, rows, d, eps): LayerNorm (with bias) or RMSNorm (null) forward.
// normGrad(dy, x, gain, mean, rstd, dx, dGain, dBias | null, rows, d): its backward.
napi_value Norm(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value a[9];
  CHECK(napi_get_cb_info(env, info, &argc, a, nullptr, nullptr));
  if (argc != 9) {
    napi_throw_type_error(env, nullptr, "norm: expected (x, gain, bias, y, mean, rstd, rows, d, eps)");
    return nullptr;
  }
  const long rows = (long)num(env, a[6]), D = (long)num(env, a[7]);
  if (rows < 0 || D < 1) {
    napi_throw_range_error(env, nullptr, "norm: rows must be ≥ 0 and d ≥ 1");
    return nullptr;
  }
  float *x, *g, *b, *y, *mean, *rstd;
  if (!f32_arg(env, a[0], rows * D, "norm: x", &x) || !f32_arg(env, a[1], D, "norm: gain", &g) ||
      !f32_arg(env, a[2], D, "norm: bias", &b, true) || !f32_arg(env, a[3], rows * D, "norm: y", &y) ||
      !f32_arg(env, a[4], rows, "norm: mean", &mean) || !f32_arg(env, a[5], rows, "norm: rstd", &rstd))
    return nullptr;
  floe::norm_forward(x, g, b, y, mean, rstd, rows, (int)D, (float)num(env, a[8]), b != nullptr);
  return nullptr;
}

napi_value NormGrad(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value a[10];
  CHECK(napi_get_cb_info(env, info, &argc, a, nullptr, nullptr));
  if (argc != 10) {
    napi_throw_type_error(env, nullptr, "normGrad: expected (dy, x, gain, mean, rstd, dx, dGain, dBias, rows, d)");
    return nullptr;
  }
  const long rows = (long)num(env, a[8]), D = (long)num(env, a[9]);
  if (rows < 0 || D < 1) {
    napi_throw_range_error(env, nullptr, "normGrad: rows must be ≥ 0 and d ≥ 1");
    return nullptr;
  }
  float *dy, *x, *g, *mean, *rstd, *dx, *dg, *db;
  if (!f32_arg(env, a[0], rows * D, "normGrad: dy", &dy) || !f32_arg(env, a[1], rows * D, "normGrad: x", &x) ||
      !f32_arg(env, a[2], D, "normGrad: gain", &g) || !f32_arg(env, a[3], rows, "normGrad: mean", &mean) ||
      !f32_arg(env, a[4], rows, "normGrad: rstd", &rstd) || !f32_arg(env, a[5], rows * D, "normGrad: dx", &dx) ||
      !f32_arg(env, a[6], D, "normGrad: dGain", &dg) || !f32_arg(env, a[7], D, "normGrad: dBias", &db, true))
    return nullptr;
  floe::norm_backward(dy, x, g, mean, rstd, dx, dg, db, rows, (int)D, db != nullptr);
  return nullptr;
}

// adam(p, g, m, v, pOut, mOut, vOut, [lr, β1, β2, 1−β1, 1−β2, ε, weightDecay, gradScale, 1−β1^t, 1−β2^t,
// decoupled]): one Adam (decoupled 0) or AdamW (1) step of one parameter into the three outputs.
napi_value Adam(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value a[8];
  CHECK(napi_get_cb_info(env, info, &argc, a, nullptr, nullptr));
  if (argc != 8) {
    napi_throw_type_error(env, nullptr, "adam: expected (p, g, m, v, pOut, mOut, vOut, settings)");
    return nullptr;
  }
  float* p;
  size_t n;
  if (!get_f32(env, a[0], &p, &n)) {
    napi_throw_type_error(env, nullptr, "adam: p must be a Float32Array");
    return nullptr;
  }
  float *g, *m, *v, *po, *mo, *vo;
  if (!f32_arg(env, a[1], (long)n, "adam: g", &g) || !f32_arg(env, a[2], (long)n, "adam: m", &m) ||
      !f32_arg(env, a[3], (long)n, "adam: v", &v) || !f32_arg(env, a[4], (long)n, "adam: pOut", &po) ||
      !f32_arg(env, a[5], (long)n, "adam: mOut", &mo) || !f32_arg(env, a[6], (long)n, "adam: vOut", &vo))
    return nullptr;
  double k[11];
  for (uint32_t i = 0; i < 11; i++) {
    napi_value e;
    if (napi_get_element(env, a[7], i, &e) != napi_ok) {
      napi_throw_type_error(env, nullptr, "adam: settings must hold 11 numbers");
      return nullptr;
    }
    k[i] = num(env, e);
  }
  const floe::AdamStep step{(float)k[0], (float)k[1], (float)k[2], (float)k[3], (float)k[4], (float)k[5],
                            (float)k[6], (float)k[7], (float)k[8], (float)k[9], k[10] != 0};
  floe::adam_update(p, g, m, v, po, mo, vo, (long)n, step);
  return nullptr;
}

// sumSquares([x0, x1, …]) → [Σx0², Σx1², …] (accumulated in double).
napi_value SumSquares(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value a[1];
  CHECK(napi_get_cb_info(env, info, &argc, a, nullptr, nullptr));
  uint32_t count = 0;
  if (argc != 1 || napi_get_array_length(env, a[0], &count) != napi_ok) {
    napi_throw_type_error(env, nullptr, "sumSquares: expected an array of Float32Arrays");
    return nullptr;
  }
  std::vector<const float*> xs(count);
  std::vector<long> sizes(count);
  std::vector<double> out(count);
  for (uint32_t i = 0; i < count; i++) {
    napi_value e;
    float* x;
    size_t len;
    if (napi_get_element(env, a[0], i, &e) != napi_ok || !get_f32(env, e, &x, &len)) {
      napi_throw_type_error(env, nullptr, "sumSquares: expected an array of Float32Arrays");
      return nullptr;
    }
    xs[i] = x;
    sizes[i] = (long)len;
  }
  floe::sum_squares(xs.data(), sizes.data(), (int)count, out.data());
  napi_value result;
  CHECK(napi_create_array_with_length(env, count, &result));
  for (uint32_t i = 0; i < count; i++) {
    napi_value d;
    CHECK(napi_create_double(env, out[i], &d));
    CHECK(napi_set_element(env, result, i, d));
  }
  return result;
}

// crossEntropy(logits, targets, probs, rows, v) → mean loss (writes probs);
// crossEntropy(probs, targets, dLogits, rows, v, dLoss) writes the gradient.
napi_value CrossEntropy(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value a[6];
  CHECK(napi_get_cb_info(env, info, &argc, a, nullptr, nullptr));
  if (argc != 5 && argc != 6) {
    napi_throw_type_error(env, nullptr, "crossEntropy: expected (logits, targets, probs, rows, v[, dLoss])");
    return nullptr;
  }
  const long rows = (long)num(env, a[3]), V = (long)num(env, a[4]);
  if (rows < 0 || V < 1) {
    napi_throw_range_error(env, nullptr, "crossEntropy: rows must be ≥ 0 and v ≥ 1");
    return nullptr;
  }
  float *x, *t, *out;
  if (!f32_arg(env, a[0], rows * V, "crossEntropy: logits", &x) || !f32_arg(env, a[1], rows, "crossEntropy: targets", &t) ||
      !f32_arg(env, a[2], rows * V, "crossEntropy: output", &out))
    return nullptr;
  if (argc == 6) {
    floe::xent_backward(x, t, (float)num(env, a[5]), out, rows, (int)V);
    return nullptr;
  }
  napi_value loss;
  CHECK(napi_create_double(env, floe::xent_forward(x, t, out, rows, (int)V), &loss));
  return loss;
}

// causalConv1d(x, w, bias, y, [b, t, d, k]) forward; causalConv1d(x, w, dy, dx, dw, dBias, [b, t, d, k]) backward.
// x, y, dy, dx: b·t·d; w, dw: k·d; bias, dBias: d.
napi_value CausalConv1d(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value a[7];
  CHECK(napi_get_cb_info(env, info, &argc, a, nullptr, nullptr));
  if (argc != 5 && argc != 7) {
    napi_throw_type_error(env, nullptr, "causalConv1d: expected 5 (forward) or 7 (backward) arguments");
    return nullptr;
  }
  long dims[4];
  if (!dims_arg(env, a[argc - 1], "causalConv1d", "[b, t, d, k]", dims)) return nullptr;
  const long B = dims[0], T = dims[1], D = dims[2], K = dims[3];
  const long btd = B * T * D, kd = K * D;
  if (argc == 5) {
    float *x, *w, *bias, *y;
    if (!f32_arg(env, a[0], btd, "causalConv1d: x", &x) || !f32_arg(env, a[1], kd, "causalConv1d: w", &w) ||
        !f32_arg(env, a[2], D, "causalConv1d: bias", &bias) || !f32_arg(env, a[3], btd, "causalConv1d: y", &y))
      return nullptr;
    floe::causal_conv1d_forward(x, w, bias, y, (int)B, (int)T, (int)D, (int)K);
    return nullptr;
  }
  float *x, *w, *dy, *dx, *dw, *db;
  if (!f32_arg(env, a[0], btd, "causalConv1d: x", &x) || !f32_arg(env, a[1], kd, "causalConv1d: w", &w) ||
      !f32_arg(env, a[2], btd, "causalConv1d: dy", &dy) || !f32_arg(env, a[3], btd, "causalConv1d: dx", &dx) ||
      !f32_arg(env, a[4], kd, "causalConv1d: dw", &dw) || !f32_arg(env, a[5], D, "causalConv1d: dBias", &db))
    return nullptr;
  floe::causal_conv1d_backward(x, w, dy, dx, dw, db, (int)B, (int)T, (int)D, (int)K);
  return nullptr;
}

// causalSoftmax(x, y, rows, t, scale) forward over rows of t (row r keeps columns ≤ r mod t);
// causalSoftmax(y, dy, dx, rows, t, scale) backward.
napi_value CausalSoftmax(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value a[6];
  CHECK(napi_get_cb_info(env, info, &argc, a, nullptr, nullptr));
  if (argc != 5 && argc != 6) {
    napi_throw_type_error(env, nullptr, "causalSoftmax: expected (x, y, rows, t, scale) or (y, dy, dx, rows, t, scale)");
    return nullptr;
  }
  const bool backward = argc == 6;
  const long rows = (long)num(env, a[backward ? 3 : 2]), T = (long)num(env, a[backward ? 4 : 3]);
  const float scale = (float)num(env, a[backward ? 5 : 4]);
  if (rows < 0 || T < 1) {
    napi_throw_range_error(env, nullptr, "causalSoftmax: rows must be ≥ 0 and t ≥ 1");
    return nullptr;
  }
  float *p0, *p1, *p2 = nullptr;
  if (!f32_arg(env, a[0], rows * T, "causalSoftmax: first array", &p0) ||
      !f32_arg(env, a[1], rows * T, "causalSoftmax: second array", &p1) ||
      (backward && !f32_arg(env, a[2], rows * T, "causalSoftmax: dx", &p2)))
    return nullptr;
  if (backward)
    floe::causal_softmax_backward(p0, p1, p2, rows, (int)T, scale);
  else
    floe::causal_softmax_forward(p0, p1, rows, (int)T, scale);
  return nullptr;
}

napi_value SetThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value a[1];
  CHECK(napi_get_cb_info(env, info, &argc, a, nullptr, nullptr));
  floe::set_threads((int)num(env, a[0]));
  return nullptr;
}

napi_value SetStaticSchedule(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value a[1];
  CHECK(napi_get_cb_info(env, info, &argc, a, nullptr, nullptr));
  bool on = false;
  CHECK(napi_get_value_bool(env, a[0], &on));
  floe::set_static_schedule(on);
  return nullptr;
}

napi_value Threads(napi_env env, napi_callback_info) {
  napi_value v;
  CHECK(napi_create_int32(env, floe::get_threads(), &v));
  return v;
}

napi_value Isa(napi_env env, napi_callback_info) {
  napi_value v;
  CHECK(napi_create_string_utf8(env, floe::isa(), NAPI_AUTO_LENGTH, &v));
  return v;
}

napi_value ForceIsa(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value a[1];
  CHECK(napi_get_cb_info(env, info, &argc, a, nullptr, nullptr));
  char name[32] = {0};
  size_t len;
  CHECK(napi_get_value_string_utf8(env, a[0], name, sizeof(name), &len));
  floe::force_isa(name);
  return Isa(env, info);
}

// SCHED_IDLE for the calling thread and the kernel pool: a thread of normal priority that wakes up takes
// the core at once, where a nice value only shares it (a nice-10 thread was seen holding a core for 20 ms
// while the event loop waited). Lowering needs no privilege; returns whether it took effect.
napi_value IdleScheduling(napi_env env, napi_callback_info) {
  napi_value v;
  CHECK(napi_get_boolean(env, floe::idle_scheduling(), &v));
  return v;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"sgemmBatched", nullptr, SgemmBatched, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"gelu", nullptr, Gelu, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sumLeading", nullptr, SumLeading, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"addBias", nullptr, AddBias, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"softmax", nullptr, Softmax, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"selectiveScan", nullptr, SelectiveScan, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"norm", nullptr, Norm, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"normGrad", nullptr, NormGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"adam", nullptr, Adam, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sumSquares", nullptr, SumSquares, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"crossEntropy", nullptr, CrossEntropy, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"causalConv1d", nullptr, CausalConv1d, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"causalSoftmax", nullptr, CausalSoftmax, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv", nullptr, Conv, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"transpose", nullptr, Transpose, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setStaticSchedule", nullptr, SetStaticSchedule, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"threads", nullptr, Threads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"isa", nullptr, Isa, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"idleScheduling", nullptr, IdleScheduling, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"forceIsa", nullptr, ForceIsa, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
