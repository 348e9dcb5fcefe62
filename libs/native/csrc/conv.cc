// Convolution helpers around the SGEMM: im2col / col2im for NHWC inputs and the max-pool gradient.
// Conv2D forward, filter gradient and input gradient are then single GEMMs (see native-kernels.ts).
#include <algorithm>
#include <cstring>

#include "gemm.h"

namespace floe {

// cols[p, k] for p = (b, oh, ow), k = (fh, fw, c); zero where the window leaves the image.
void im2col(const float* x, float* cols, const ConvGeometry& g) {
  const int K = g.fh * g.fw * g.c;
  const int P = g.b * g.oh * g.ow;
  parallel_for(P, [&](int begin, int end) {
    for (int p = begin; p < end; p++) {
      const int bi = p / (g.oh * g.ow), rem = p % (g.oh * g.ow), oh = rem / g.ow, ow = rem % g.ow;
      float* row = cols + (size_t)p * K;
      const int iw0 = ow * g.sw - g.padLeft;
      // Without dilation, a window row lying inside the image is one contiguous span of fw·c values.
      const bool rowInside = g.dw == 1 && iw0 >= 0 && iw0 + g.fw <= g.w;
      for (int i = 0; i < g.fh; i++) {
        const int ih = oh * g.sh - g.padTop + i * g.dh;
        float* dst = row + (size_t)i * g.fw * g.c;
        if (ih < 0 || ih >= g.h) {
          std::memset(dst, 0, sizeof(float) * g.fw * g.c);
          continue;
        }
        const float* src = x + (((size_t)bi * g.h + ih) * g.w) * g.c;
        if (rowInside) {
          const float* from = src + (size_t)iw0 * g.c;
          const int n = g.fw * g.c;
          for (int q = 0; q < n; q++) dst[q] = from[q];
          continue;
        }
        for (int j = 0; j < g.fw; j++) {
          const int iw = iw0 + j * g.dw;
          float* d = dst + j * g.c;
          if (iw < 0 || iw >= g.w) for (int q = 0; q < g.c; q++) d[q] = 0.f;
          else for (int q = 0; q < g.c; q++) d[q] = src[(size_t)iw * g.c + q];
        }
      }
    }
  });
}

// dx[b, ih, iw, c] = Σ over the windows that cover it of dcols[p, k]; dx is overwritten.
void col2im(const float* dcols, float* dx, const ConvGeometry& g) {
  const int K = g.fh * g.fw * g.c;
  std::memset(dx, 0, sizeof(float) * (size_t)g.b * g.h * g.w * g.c);
  // One image per task: windows of different images never overlap, so there are no races.
  parallel_for_chunks(g.b, [&](int bi) {
    for (int oh = 0; oh < g.oh; oh++)
      for (int ow = 0; ow < g.ow; ow++) {
        const float* row = dcols + (((size_t)bi * g.oh + oh) * g.ow + ow) * K;
        for (int i = 0; i < g.fh; i++) {
          const int ih = oh * g.sh - g.padTop + i * g.dh;
          if (ih < 0 || ih >= g.h) continue;
          for (int j = 0; j < g.fw; j++) {
            const int iw = ow * g.sw - g.padLeft + j * g.dw;
            if (iw < 0 || iw >= g.w) continue;
            float* dst = dx + (((size_t)bi * g.h + ih) * g.w + iw) * g.c;
            const float* src = row + (i * g.fw + j) * g.c;
            for (int c = 0; c < g.c; c++) dst[c] += src[c];
          }
        }
      }
  });
}

// Max-pool gradient (NHWC): each output's gradient goes to the first maximum of its window.
void max_pool_grad(const float* x, const float* dy, float* dx, const ConvGeometry& g) {
  std::memset(dx, 0, sizeof(float) * (size_t)g.b * g.h * g.w * g.c);
  parallel_for_chunks(g.b, [&](int bi) {
    for (int oh = 0; oh < g.oh; oh++)
      for (int ow = 0; ow < g.ow; ow++)
        for (int c = 0; c < g.c; c++) {
          float best = -3.402823466e38f;
          long at = -1;
          for (int i = 0; i < g.fh; i++) {
            const int ih = oh * g.sh - g.padTop + i;
            if (ih < 0 || ih >= g.h) continue;
            for (int j = 0; j < g.fw; j++) {
              const int iw = ow * g.sw - g.padLeft + j;
              if (iw < 0 || iw >= g.w) continue;
              const long idx = (((long)bi * g.h + ih) * g.w + iw) * g.c + c;
              if (x[idx] > best || at < 0) {
                best = x[idx];
                at = idx;
              }
            }
          }
          if (at >= 0) dx[at] += dy[(((long)bi * g.oh + oh) * g.ow + ow) * g.c + c];
        }
  });
}

}  // namespace floe
