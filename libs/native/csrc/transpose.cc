// N-D transpose. Adjacent axes that stay adjacent are merged first (a 5-D attention permutation is
// usually 3- or 4-D after merging); then each thread walks a range of output rows with an odometer
// over the input strides, copying the contiguous-in-output last axis.
#include <algorithm>
#include <cstring>
#include <functional>
#include <vector>

#include "gemm.h"

namespace floe {

void transpose(const float* in, float* out, const int* shape, const int* perm, int rank) {
  // Merge runs of axes that are consecutive in both orders.
  std::vector<long> dims, strides;  // output-order dims and the input stride of each
  std::vector<long> inStride(rank);
  long s = 1;
  for (int i = rank - 1; i >= 0; i--) {
    inStride[i] = s;
    s *= shape[i];
  }
  for (int i = 0; i < rank; i++) {
    const int axis = perm[i];
    if (shape[axis] == 1) continue;
    if (!dims.empty() && i > 0 && perm[i - 1] == axis - 1 && strides.back() == inStride[axis] * shape[axis]) {
      dims.back() *= shape[axis];
      strides.back() = inStride[axis];
    } else {
      dims.push_back(shape[axis]);
      strides.push_back(inStride[axis]);
    }
  }
  const long total = s;
  if (dims.empty() || (dims.size() == 1 && strides[0] == 1)) {
    std::memcpy(out, in, sizeof(float) * total);
    return;
  }
  const int r = (int)dims.size();
  const long inner = dims[r - 1];
  const long innerStride = strides[r - 1];
  const long rows = total / inner;
  parallel_for((int)std::min<long>(rows, 1L << 30), [&](int begin, int end) {
    // Odometer over the outer output axes, starting at row `begin`.
    std::vector<long> idx(r - 1, 0);
    long rem = begin, base = 0;
    for (int d = r - 2; d >= 0; d--) {
      idx[d] = rem % dims[d];
      rem /= dims[d];
      base += idx[d] * strides[d];
    }
    for (long row = begin; row < end; row++) {
      float* dst = out + row * inner;
      const float* src = in + base;
      if (innerStride == 1) std::memcpy(dst, src, sizeof(float) * inner);
      else for (long j = 0; j < inner; j++) dst[j] = src[j * innerStride];
      for (int d = r - 2; d >= 0; d--) {
        base += strides[d];
        if (++idx[d] < dims[d]) break;
        base -= strides[d] * dims[d];
        idx[d] = 0;
      }
    }
  });
}

}  // namespace floe
