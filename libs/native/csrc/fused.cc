// Fused training kernels: each replaces a chain of TF.js kernels (and their launches, temporaries and
// saved activations) with one pass over the data.
//   LayerNorm/RMSNorm forward and backward (rows of D values),
//   the Adam/AdamW update of one parameter (weights, gradient and both moments in one pass),
//   sums of squares of many tensors at once (gradient norms).
#include <algorithm>
#include <cmath>
#include <vector>

#include "gemm.h"

namespace floe {

// y = (x − μ)·r·g + b with r = 1/√(var + ε) per row (center), or y = x·r·g with r = 1/√(mean(x²) + ε)
// (RMSNorm: μ = 0, no bias). Writes each row's μ and r for the backward pass.
void norm_forward(const float* x, const float* gain, const float* bias, float* y, float* mean, float* rstd, long rows, int D,
                  float eps, bool center) {
  parallel_for((int)((rows + 15) / 16), [&](int begin, int end) {
    const long lo = (long)begin * 16, hi = std::min(rows, (long)end * 16);
    for (long r = lo; r < hi; r++) {
      const float* xr = x + r * D;
      float* yr = y + r * D;
      double sum = 0;
      if (center)
        for (int j = 0; j < D; j++) sum += xr[j];
      const float mu = center ? (float)(sum / D) : 0.f;
      double sq = 0;
      for (int j = 0; j < D; j++) {
        const float c = xr[j] - mu;
        sq += (double)c * c;
      }
      const float rs = 1.f / std::sqrt((float)(sq / D) + eps);
      mean[r] = mu;
      rstd[r] = rs;
      if (center)
        for (int j = 0; j < D; j++) yr[j] = (xr[j] - mu) * rs * gain[j] + bias[j];
      else
        for (int j = 0; j < D; j++) yr[j] = xr[j] * rs * gain[j];
    }
  });
}

// x̂ = (x − μ)·r, ĝ = dy·g:  dx = r·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂))  (RMSNorm: without the mean(ĝ) term),
// dgain = Σ_rows dy·x̂, dbias = Σ_rows dy. The column sums are accumulated per thread, then added.
void norm_backward(const float* dy, const float* x, const float* gain, const float* mean, const float* rstd, float* dx,
                   float* dgain, float* dbias, long rows, int D, bool center) {
  const int chunks = (int)((rows + 15) / 16);
  const int workers = std::max(1, std::min(chunks, get_threads()));
  std::vector<std::vector<double>> partial(workers, std::vector<double>((size_t)2 * D, 0.0));
  parallel_for_chunks(workers, [&](int w) {
    double* pg = partial[w].data();
    double* pb = pg + D;
    for (int c = w; c < chunks; c += workers) {
      const long lo = (long)c * 16, hi = std::min(rows, lo + 16);
      for (long r = lo; r < hi; r++) {
        const float* xr = x + r * D;
        const float* dyr = dy + r * D;
        float* dxr = dx + r * D;
        const float mu = mean[r], rs = rstd[r];
        double sumG = 0, sumGX = 0;
        for (int j = 0; j < D; j++) {
          const float xh = (xr[j] - mu) * rs;
          const float gh = dyr[j] * gain[j];
          sumG += gh;
          sumGX += (double)gh * xh;
          pg[j] += (double)dyr[j] * xh;
          pb[j] += dyr[j];
        }
        const float meanG = center ? (float)(sumG / D) : 0.f;
        const float meanGX = (float)(sumGX / D);
        for (int j = 0; j < D; j++) {
          const float xh = (xr[j] - mu) * rs;
          dxr[j] = rs * (dyr[j] * gain[j] - meanG - xh * meanGX);
        }
      }
    }
  });
  for (int j = 0; j < D; j++) {
    double g = 0, b = 0;
    for (int w = 0; w < workers; w++) {
      g += partial[w][j];
      b += partial[w][D + j];
    }
    dgain[j] = (float)g;
    if (dbias) dbias[j] = (float)b;
  }
}

// One Adam(W) step of a parameter, written to new arrays (p, m, v stay as they are), in the order of the
// TF.js composition it replaces (libs/training optimizer.ts), with the constants it computes in double
// (1 − β, the bias corrections), so that the two agree to float32 rounding:
//   g ← g·scale (+ wd·p for Adam's L2 form); m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
//   u = (m/(1−β1^t)) / (√(v/(1−β2^t)) + ε) (+ wd·p for AdamW); p ← p − lr·u.
// One block of the update, with the step's options fixed at compile time: a loop without branches, which
// vectorises (with the options tested inside, it ran one entry at a time).
template <bool Scaled, bool L2, bool Decoupled>
static void adam_block(const float* __restrict p, const float* __restrict g, const float* __restrict m,
                       const float* __restrict v, float* __restrict pOut, float* __restrict mOut, float* __restrict vOut,
                       long lo, long hi, const AdamStep& a) {
  const float lr = a.lr, beta1 = a.beta1, beta2 = a.beta2, eps = a.eps, weightDecay = a.weightDecay, scale = a.scale;
  const float oneMinusBeta1 = a.oneMinusBeta1, oneMinusBeta2 = a.oneMinusBeta2;
  const float correction1 = a.correction1, correction2 = a.correction2;
  for (long i = lo; i < hi; i++) {
    const float pi = p[i];
    float gi = g[i];
    if (Scaled) gi = gi * scale;
    if (L2) gi = gi + pi * weightDecay;
    const float mi = m[i] * beta1 + gi * oneMinusBeta1;
    const float vi = v[i] * beta2 + gi * gi * oneMinusBeta2;
    float u = (mi / correction1) / (std::sqrt(vi / correction2) + eps);
    if (Decoupled) u = u + pi * weightDecay;
    mOut[i] = mi;
    vOut[i] = vi;
    pOut[i] = pi - u * lr;
  }
}

void adam_update(const float* p, const float* g, const float* m, const float* v, float* pOut, float* mOut, float* vOut, long n,
                 const AdamStep& a) {
  const bool scaled = a.scale != 1.f, l2 = !a.decoupled && a.weightDecay > 0, decoupled = a.decoupled && a.weightDecay > 0;
  using Block = void (*)(const float*, const float*, const float*, const float*, float*, float*, float*, long, long,
                         const AdamStep&);
  const Block block = scaled ? (l2 ? adam_block<true, true, false> : decoupled ? adam_block<true, false, true> : adam_block<true, false, false>)
                             : (l2 ? adam_block<false, true, false> : decoupled ? adam_block<false, false, true> : adam_block<false, false, false>);
  // Blocks of 1,024: parallel_for runs fewer than 64 tasks on one thread, and LeNet's largest weight (400,000
  // entries) made 49 blocks of 8,192.
  parallel_for((int)((n + 1023) / 1024), [&](int begin, int end) {
    block(p, g, m, v, pOut, mOut, vOut, (long)begin * 1024, std::min(n, (long)end * 1024), a);
  });
}

// Mean cross-entropy of `rows` rows of logits against integer targets (given as floats), natural log.
// Writes each row's softmax to `probs` (the backward's only input) and answers the mean loss.
double xent_forward(const float* logits, const float* targets, float* probs, long rows, int V) {
  std::vector<double> losses(rows);
  parallel_for((int)((rows + 15) / 16), [&](int begin, int end) {
    const long lo = (long)begin * 16, hi = std::min(rows, (long)end * 16);
    for (long r = lo; r < hi; r++) {
      const float* x = logits + r * V;
      float* p = probs + r * V;
      float mx = -INFINITY;
      for (int j = 0; j < V; j++) mx = std::max(mx, x[j]);
      double sum = 0;
      for (int j = 0; j < V; j++) {
        p[j] = std::exp(x[j] - mx);
        sum += p[j];
      }
      const float inv = (float)(1.0 / sum);
      for (int j = 0; j < V; j++) p[j] *= inv;
      const int t = std::min(V - 1, std::max(0, (int)targets[r]));
      losses[r] = (double)mx + std::log(sum) - x[t];
    }
  });
  double total = 0;
  for (long r = 0; r < rows; r++) total += losses[r];
  return rows > 0 ? total / rows : 0;
}

// d logits = (softmax − onehot(target))·(dLoss / rows).
void xent_backward(const float* probs, const float* targets, float dLoss, float* dlogits, long rows, int V) {
  const float scale = rows > 0 ? dLoss / rows : 0.f;
  parallel_for((int)((rows + 15) / 16), [&](int begin, int end) {
    const long lo = (long)begin * 16, hi = std::min(rows, (long)end * 16);
    for (long r = lo; r < hi; r++) {
      const float* p = probs + r * V;
      float* d = dlogits + r * V;
      const int t = std::min(V - 1, std::max(0, (int)targets[r]));
      for (int j = 0; j < V; j++) d[j] = (p[j] - (j == t ? 1.f : 0.f)) * scale;
    }
  });
}

// out[k] = Σ x_k², accumulated in double (a gradient norm over millions of entries). Each tensor is cut into
// blocks of 16,384 so that one large tensor does not leave the other threads idle; the blocks' sums are added in
// order, so the result does not depend on the thread count.
void sum_squares(const float* const* xs, const long* sizes, int count, double* out) {
  const long block = 16384;
  std::vector<long> first(count + 1, 0);  // each tensor's first block
  for (int k = 0; k < count; k++) first[k + 1] = first[k] + std::max(1L, (sizes[k] + block - 1) / block);
  std::vector<double> partial(first[count], 0.0);
  parallel_for_chunks((int)first[count], [&](int t) {
    const int k = (int)(std::upper_bound(first.begin(), first.end(), (long)t) - first.begin()) - 1;
    const long lo = (t - first[k]) * block, hi = std::min(sizes[k], lo + block);
    // Four running sums (entries i mod 4), so that the additions do not wait on one another.
    double s[4] = {0, 0, 0, 0};
    const float* x = xs[k];
    long i = lo;
    for (; i + 4 <= hi; i += 4)
      for (int j = 0; j < 4; j++) s[j] += (double)x[i + j] * x[i + j];
    for (; i < hi; i++) s[0] += (double)x[i] * x[i];
    partial[t] = (s[0] + s[1]) + (s[2] + s[3]);
  });
  for (int k = 0; k < count; k++) {
    double s = 0;
    for (long t = first[k]; t < first[k + 1]; t++) s += partial[t];
    out[k] = s;
  }
}

}  // namespace floe
