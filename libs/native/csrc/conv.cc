// Convolution helpers around the SGEMM: im2col / col2im for NHWC inputs and the max-pool gradient.
// Conv2D forward, filter gradient and input gradient are then single GEMMs (see native-kernels.ts).
#include <algorithm>
#include <cstring>
#include <vector>

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

// Folds one window position — its C channels at xp, tagged tag + c — into each channel's running first maximum
// (`first`: the window's first position). The loads come before the selects, which then compile to blends rather
// than branches (random data mispredicts half of them); C is a parameter, which no store can change, so the loops
// vectorise (read through a struct or a closure, they did not).
static inline void fold_max(const float* __restrict xp, int tag, int C, bool first, float* __restrict best,
                            int* __restrict arg) {
  if (first) {
    for (int q = 0; q < C; q++) best[q] = xp[q], arg[q] = tag + q;
    return;
  }
  for (int q = 0; q < C; q++) {
    const float v = xp[q], b = best[q];
    const int a = arg[q];
    const int greater = -(int)(v > b);  // all ones where v is the new maximum
    best[q] = std::max(b, v);
    arg[q] = (a & ~greater) | ((tag + q) & greater);
  }
}

// The max-pool gradient where the windows tile the image (LeNet's 2×2 at stride 2): every input entry lies in
// exactly one window, so each window writes all of its entries — its gradient at the first maximum, 0 elsewhere —
// and dx needs no clearing pass or accumulation.
static void max_pool_grad_tiled(const float* x, const float* dy, float* dx, const ConvGeometry& g) {
  parallel_for_chunks(g.b, [&](int bi) {
    const int C = g.c, W = g.w, FW = g.fw, FH = g.fh, OH = g.oh, OW = g.ow, window = FH * FW;
    const size_t image = (size_t)g.h * W * C;
    std::vector<float> best(C);
    std::vector<int> arg(C);  // the window position k of each channel's maximum, as k + c
    for (int oh = 0; oh < OH; oh++)
      for (int ow = 0; ow < OW; ow++) {
        const size_t corner = bi * image + ((size_t)oh * FH * W + (size_t)ow * FW) * C;
        const float* dyw = dy + (((size_t)bi * OH + oh) * OW + ow) * C;
        for (int k = 0; k < window; k++)
          fold_max(x + corner + ((size_t)(k / FW) * W + k % FW) * C, k, C, k == 0, best.data(), arg.data());
        for (int k = 0; k < window; k++) {
          float* __restrict dk = dx + corner + ((size_t)(k / FW) * W + k % FW) * C;
          const int* __restrict at = arg.data();
          for (int q = 0; q < C; q++) {
            const float d = dyw[q];
            dk[q] = at[q] == k + q ? d : 0.f;
          }
        }
      }
  });
}

// Max-pool gradient (NHWC): each output's gradient goes to the first maximum of its window. The channels of a
// window position are contiguous, so each window keeps every channel's running maximum at once (fold_max) rather
// than walking the window once per channel.
void max_pool_grad(const float* x, const float* dy, float* dx, const ConvGeometry& g) {
  const bool tiles = g.sh == g.fh && g.sw == g.fw && g.padTop == 0 && g.padLeft == 0 && g.oh * g.fh == g.h &&
                     g.ow * g.fw == g.w;
  if (tiles) return max_pool_grad_tiled(x, dy, dx, g);
  parallel_for_chunks(g.b, [&](int bi) {
    const int C = g.c;
    const size_t image = (size_t)g.h * g.w * C;
    const float* xb = x + bi * image;
    float* dxb = dx + bi * image;
    std::memset(dxb, 0, sizeof(float) * image);
    std::vector<float> best(C);
    std::vector<int> at(C);  // each channel's maximum, as its index in the image
    for (int oh = 0; oh < g.oh; oh++)
      for (int ow = 0; ow < g.ow; ow++) {
        bool first = true;
        for (int i = 0; i < g.fh; i++) {
          const int ih = oh * g.sh - g.padTop + i;
          if (ih < 0 || ih >= g.h) continue;
          for (int j = 0; j < g.fw; j++) {
            const int iw = ow * g.sw - g.padLeft + j;
            if (iw < 0 || iw >= g.w) continue;
            const int pos = (ih * g.w + iw) * C;
            fold_max(xb + pos, pos, C, first, best.data(), at.data());
            first = false;
          }
        }
        if (first) continue;  // a window wholly in the padding
        const float* dyp = dy + (((size_t)bi * g.oh + oh) * g.ow + ow) * C;
        for (int q = 0; q < C; q++) dxb[at[q]] += dyp[q];
      }
  });
}

}  // namespace floe
