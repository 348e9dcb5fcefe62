// Mamba's selective scan (S6) over a whole sequence in one call, forward and backward (docs/ALGORITHMS.md,
// the Mamba section). Unrolled in TF.js it is ~8 kernels per time step and direction, so a 64-step
// sequence costs ~1,000 kernel launches a layer while the arithmetic is a few million multiply-adds. Here
// the state h[d, ·] of one channel stays in a small local array for the whole sequence.
//
// Shapes (row-major): u, delta [B, T, D]; A [D, N]; Bm, Cm [B, T, N]; y [B, T, D].
//   h_t[d, n] = exp(Δ_t[d]·A[d, n])·h_{t−1}[d, n] + Δ_t[d]·u_t[d]·B_t[n],   h_{−1} = 0
//   y_t[d]    = Σ_n h_t[d, n]·C_t[n]
#include <algorithm>
#include <cmath>
#include <vector>

#include "gemm.h"

namespace floe {

void selective_scan_forward(const float* u, const float* delta, const float* A, const float* Bm, const float* Cm, float* y,
                            int B, int T, int D, int N) {
  // Channels are independent: split (batch, channel) pairs over the threads.
  parallel_for(B * D, [&](int begin, int end) {
    std::vector<float> h(N);
    for (int job = begin; job < end; job++) {
      const int b = job / D, d = job % D;
      std::fill(h.begin(), h.end(), 0.f);
      const float* a = A + (long)d * N;
      for (int t = 0; t < T; t++) {
        const long bt = (long)b * T + t;
        const float dt = delta[bt * D + d];
        const float x = dt * u[bt * D + d];
        const float* bn = Bm + bt * N;
        const float* cn = Cm + bt * N;
        float acc = 0.f;
        for (int n = 0; n < N; n++) {
          h[n] = std::exp(dt * a[n]) * h[n] + x * bn[n];
          acc += h[n] * cn[n];
        }
        y[bt * D + d] = acc;
      }
    }
  });
}

// Reverse-mode through the recurrence. With a_t = exp(Δ_t·A) and g_t = ∂L/∂h_t (dy's own term plus what
// flows back from h_{t+1}: g_t = dy_t·C_t + a_{t+1}·g_{t+1}):
//   ∂u_t[d] = Σ_n g_t·Δ_t[d]·B_t[n]          ∂Δ_t[d] = Σ_n g_t·(A[d,n]·a_t·h_{t−1} + u_t[d]·B_t[n])
//   ∂A[d,n] = Σ_{b,t} g_t·Δ_t[d]·a_t·h_{t−1}  ∂B_t[n] = Σ_d g_t·Δ_t[d]·u_t[d]    ∂C_t[n] = Σ_d dy_t[d]·h_t
// ∂B and ∂C sum over channels, so a thread owns whole batch rows; ∂A sums over the batch, so each thread
// accumulates its own and they are added at the end. The forward states and decays are recomputed per
// channel (2·T·N floats), not stored by the forward pass.
void selective_scan_backward(const float* u, const float* delta, const float* A, const float* Bm, const float* Cm,
                             const float* dy, float* du, float* ddelta, float* dA, float* dB, float* dC, int B, int T, int D,
                             int N) {
  std::fill(dB, dB + (long)B * T * N, 0.f);
  std::fill(dC, dC + (long)B * T * N, 0.f);
  std::fill(dA, dA + (long)D * N, 0.f);
  const int workers = std::max(1, std::min(B, get_threads()));
  std::vector<std::vector<float>> partialA(workers, std::vector<float>((size_t)D * N, 0.f));
  parallel_for_chunks(workers, [&](int w) {
    std::vector<float> hs((size_t)T * N), decay((size_t)T * N), g(N);
    float* myA = partialA[w].data();
    for (int b = w; b < B; b += workers) {
      for (int d = 0; d < D; d++) {
        const float* a = A + (long)d * N;
        // Forward states of this channel.
        for (int t = 0; t < T; t++) {
          const long bt = (long)b * T + t;
          const float dt = delta[bt * D + d];
          const float x = dt * u[bt * D + d];
          const float* bn = Bm + bt * N;
          float* h = hs.data() + (long)t * N;
          float* at = decay.data() + (long)t * N;
          const float* hp = t > 0 ? h - N : nullptr;
          for (int n = 0; n < N; n++) {
            at[n] = std::exp(dt * a[n]);
            h[n] = (hp ? at[n] * hp[n] : 0.f) + x * bn[n];
          }
        }
        std::fill(g.begin(), g.end(), 0.f);
        float* dAd = myA + (long)d * N;
        for (int t = T - 1; t >= 0; t--) {
          const long bt = (long)b * T + t;
          const float dt = delta[bt * D + d];
          const float ut = u[bt * D + d];
          const float dyt = dy[bt * D + d];
          const float* bn = Bm + bt * N;
          const float* cn = Cm + bt * N;
          float* dbn = dB + bt * N;
          float* dcn = dC + bt * N;
          const float* h = hs.data() + (long)t * N;
          const float* ats = decay.data() + (long)t * N;
          const float* hp = t > 0 ? h - N : nullptr;
          float ddt = 0.f, dut = 0.f;
          for (int n = 0; n < N; n++) {
            const float gn = g[n] + dyt * cn[n];
            dcn[n] += dyt * h[n];
            const float at = ats[n];
            const float decayed = hp ? at * hp[n] : 0.f;
            ddt += gn * (a[n] * decayed + ut * bn[n]);
            dAd[n] += gn * dt * decayed;
            dut += gn * dt * bn[n];
            dbn[n] += gn * dt * ut;
            g[n] = gn * at;
          }
          du[bt * D + d] = dut;
          ddelta[bt * D + d] = ddt;
        }
      }
    }
  });
  for (int w = 0; w < workers; w++)
    for (long i = 0; i < (long)D * N; i++) dA[i] += partialA[w][i];
}

// Mamba's causal depthwise convolution over time: y[b,t,d] = bias[d] + Σ_k w[k,d]·x[b, t−(K−1)+k, d]
// (x before the start reads 0). Replaces pad → depthwiseConv2d → add and their three backprops.
void causal_conv1d_forward(const float* x, const float* w, const float* bias, float* y, int B, int T, int D, int K) {
  parallel_for(B * T, [&](int begin, int end) {
    for (int job = begin; job < end; job++) {
      const int b = job / T, t = job % T;
      float* yr = y + (long)job * D;
      for (int d = 0; d < D; d++) yr[d] = bias[d];
      for (int k = 0; k < K; k++) {
        const int s = t - (K - 1) + k;
        if (s < 0) continue;
        const float* xr = x + ((long)b * T + s) * D;
        const float* wk = w + (long)k * D;
        for (int d = 0; d < D; d++) yr[d] += wk[d] * xr[d];
      }
    }
  });
}

// dx[b,s,d] = Σ_k w[k,d]·dy[b, s+(K−1)−k, d];  dw[k,d] = Σ_{b,t} dy[b,t,d]·x[b, t−(K−1)+k, d];  dbias = Σ dy.
void causal_conv1d_backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* dbias, int B, int T,
                            int D, int K) {
  const int workers = std::max(1, std::min(B * T, get_threads()));
  std::vector<std::vector<float>> partial(workers, std::vector<float>((size_t)(K + 1) * D, 0.f));
  parallel_for_chunks(workers, [&](int wk) {
    float* pw = partial[wk].data();
    float* pb = pw + (long)K * D;
    for (int job = wk; job < B * T; job += workers) {
      const int b = job / T, s = job % T;
      float* dxr = dx + (long)job * D;
      const float* dyr = dy + (long)job * D;
      for (int d = 0; d < D; d++) {
        dxr[d] = 0.f;
        pb[d] += dyr[d];
      }
      for (int k = 0; k < K; k++) {
        // dx: the outputs this input feeds (t = s + (K−1) − k).
        const int t = s + (K - 1) - k;
        if (t < T) {
          const float* dyt = dy + ((long)b * T + t) * D;
          const float* wr = w + (long)k * D;
          for (int d = 0; d < D; d++) dxr[d] += wr[d] * dyt[d];
        }
        // dw: this output's window (input at s − (K−1) + k).
        const int in = s - (K - 1) + k;
        if (in >= 0) {
          const float* xr = x + ((long)b * T + in) * D;
          float* pwk = pw + (long)k * D;
          for (int d = 0; d < D; d++) pwk[d] += dyr[d] * xr[d];
        }
      }
    }
  });
  for (long i = 0; i < (long)K * D; i++) {
    float sum = 0.f;
    for (int wk = 0; wk < workers; wk++) sum += partial[wk][i];
    dw[i] = sum;
  }
  for (int d = 0; d < D; d++) {
    float sum = 0.f;
    for (int wk = 0; wk < workers; wk++) sum += partial[wk][(long)K * D + d];
    dbias[d] = sum;
  }
}

}  // namespace floe
