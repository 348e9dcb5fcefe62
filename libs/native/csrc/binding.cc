// N-API binding. Arrays are used in place (no copies): a Float32Array may be a view on the wasm heap.
#include <node_api.h>

#include <cstring>
#include <string>

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

napi_value SetThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value a[1];
  CHECK(napi_get_cb_info(env, info, &argc, a, nullptr, nullptr));
  floe::set_threads((int)num(env, a[0]));
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

napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"sgemmBatched", nullptr, SgemmBatched, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"transpose", nullptr, Transpose, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"threads", nullptr, Threads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"isa", nullptr, Isa, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"forceIsa", nullptr, ForceIsa, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
