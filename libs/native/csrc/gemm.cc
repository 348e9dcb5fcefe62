// Goto-style SGEMM: for each kc-slab of K, pack a kc×nc panel of op(B) in NR-wide column strips, then
// each thread packs mc×kc blocks of op(A) in MR-tall row strips and runs the MR×NR micro-kernel over
// them. Packing absorbs transposes and edges (zero padding), so the micro-kernel sees one layout.
#include "gemm.h"

#include <immintrin.h>
#ifdef __linux__
#include <sched.h>
#endif

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace floe {
namespace {

constexpr int KC = 256;
constexpr int MC = 96;
constexpr int NC = 1024;
constexpr int MAX_NR = 32;
constexpr int MAX_MR = 8;
// Products with at most this many rows and a long reduction split K over the threads (see sgemm).
constexpr int SPLIT_K_MAX_M = 512;

enum class Isa { Portable, Avx2, Avx512 };

Isa detect() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return Isa::Avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::Avx2;
  return Isa::Portable;
}

Isa g_isa = detect();

struct Shape {
  int mr, nr;
};
Shape shape_of(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return {8, 32};
    case Isa::Avx2: return {6, 16};
    default: return {4, 8};
  }
}

// ---- micro-kernels: C[mr×nr] (+)= Ap[kc×mr] · Bp[kc×nr]; Ap is k-major (mr values per k), Bp k-major.

__attribute__((target("avx512f"))) void kernel_avx512(int kc, const float* Ap, const float* Bp, float* C, int ldc, bool accumulate) {
  __m512 c[8][2];
  for (int i = 0; i < 8; i++) c[i][0] = c[i][1] = _mm512_setzero_ps();
  for (int k = 0; k < kc; k++) {
    __m512 b0 = _mm512_loadu_ps(Bp + k * 32);
    __m512 b1 = _mm512_loadu_ps(Bp + k * 32 + 16);
    const float* a = Ap + k * 8;
    for (int i = 0; i < 8; i++) {
      __m512 ai = _mm512_set1_ps(a[i]);
      c[i][0] = _mm512_fmadd_ps(ai, b0, c[i][0]);
      c[i][1] = _mm512_fmadd_ps(ai, b1, c[i][1]);
    }
  }
  for (int i = 0; i < 8; i++) {
    float* row = C + (size_t)i * ldc;
    if (accumulate) {
      c[i][0] = _mm512_add_ps(c[i][0], _mm512_loadu_ps(row));
      c[i][1] = _mm512_add_ps(c[i][1], _mm512_loadu_ps(row + 16));
    }
    _mm512_storeu_ps(row, c[i][0]);
    _mm512_storeu_ps(row + 16, c[i][1]);
  }
}

// A tile of up to 8 × 32 straight into C with masked loads and stores. Two uses: an edge tile (rows < 8 or
// cols < 32), where the other ISAs compute a whole tile into scratch and copy its valid part element by element
// (a product whose N is below 32 — a convolution with 20 filters — is all edge); and, with DirectA, A read in
// place (row i of the tile at A + i·lda) instead of packed — for products with N ≤ 256, where A meets at most 8
// strips of B and packing it cost as much as the FMAs (conv2's forward, [4096 × 500] · [500 × 50]; see directA in
// sgemm_impl). With at most 16 columns the second half's FMAs are skipped.
template <bool DirectA>
__attribute__((target("avx512f"))) void kernel_avx512_masked(int kc, const float* A, long lda, const float* Bp, float* C,
                                                             int ldc, bool accumulate, int rows, int cols) {
  const __mmask16 m0 = (__mmask16)(cols >= 16 ? 0xFFFFu : (1u << cols) - 1);
  const __mmask16 m1 = (__mmask16)(cols <= 16 ? 0u : cols >= 32 ? 0xFFFFu : (1u << (cols - 16)) - 1);
  // A's value for row i at step k: packed k-major (8 a step), or in place.
#define FLOE_A(k, i) (DirectA ? A[(size_t)(i) * lda + (k)] : A[(k) * 8 + (i)])
  __m512 c[8][2];
  for (int i = 0; i < 8; i++) c[i][0] = c[i][1] = _mm512_setzero_ps();
  if (m1 == 0) {
    for (int k = 0; k < kc; k++) {
      __m512 b0 = _mm512_loadu_ps(Bp + k * 32);
      for (int i = 0; i < 8; i++) c[i][0] = _mm512_fmadd_ps(_mm512_set1_ps(FLOE_A(k, i)), b0, c[i][0]);
    }
  } else {
    for (int k = 0; k < kc; k++) {
      __m512 b0 = _mm512_loadu_ps(Bp + k * 32);
      __m512 b1 = _mm512_loadu_ps(Bp + k * 32 + 16);
      for (int i = 0; i < 8; i++) {
        __m512 ai = _mm512_set1_ps(FLOE_A(k, i));
        c[i][0] = _mm512_fmadd_ps(ai, b0, c[i][0]);
        c[i][1] = _mm512_fmadd_ps(ai, b1, c[i][1]);
      }
    }
  }
#undef FLOE_A
  for (int i = 0; i < rows; i++) {
    float* row = C + (size_t)i * ldc;
    if (accumulate) {
      c[i][0] = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, row), c[i][0]);
      if (m1) c[i][1] = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, row + 16), c[i][1]);
    }
    _mm512_mask_storeu_ps(row, m0, c[i][0]);
    if (m1) _mm512_mask_storeu_ps(row + 16, m1, c[i][1]);
  }
}

// Twelve accumulators in named variables: as an array (c[6][2]) GCC kept them on the stack, loading and storing
// around every FMA (AVX2 has 16 registers; 12 + 2 of B + 1 broadcast fit) — the kernel ran at half its speed.
__attribute__((target("avx2,fma"))) void kernel_avx2(int kc, const float* Ap, const float* Bp, float* C, int ldc, bool accumulate) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (int k = 0; k < kc; k++) {
    const __m256 b0 = _mm256_loadu_ps(Bp + k * 16);
    const __m256 b1 = _mm256_loadu_ps(Bp + k * 16 + 8);
    const float* a = Ap + k * 6;
    __m256 ai;
#define FLOE_ROW(i)                               \
  ai = _mm256_broadcast_ss(a + i);                \
  c##i##0 = _mm256_fmadd_ps(ai, b0, c##i##0);     \
  c##i##1 = _mm256_fmadd_ps(ai, b1, c##i##1);
    FLOE_ROW(0) FLOE_ROW(1) FLOE_ROW(2) FLOE_ROW(3) FLOE_ROW(4) FLOE_ROW(5)
#undef FLOE_ROW
  }
#define FLOE_STORE(i)                                                  \
  {                                                                    \
    float* row = C + (size_t)(i) * ldc;                                \
    if (accumulate) {                                                  \
      c##i##0 = _mm256_add_ps(c##i##0, _mm256_loadu_ps(row));          \
      c##i##1 = _mm256_add_ps(c##i##1, _mm256_loadu_ps(row + 8));      \
    }                                                                  \
    _mm256_storeu_ps(row, c##i##0);                                    \
    _mm256_storeu_ps(row + 8, c##i##1);                                \
  }
  FLOE_STORE(0) FLOE_STORE(1) FLOE_STORE(2) FLOE_STORE(3) FLOE_STORE(4) FLOE_STORE(5)
#undef FLOE_STORE
}

void kernel_portable(int kc, const float* Ap, const float* Bp, float* C, int ldc, bool accumulate) {
  float c[4][8] = {};
  for (int k = 0; k < kc; k++)
    for (int i = 0; i < 4; i++)
      for (int j = 0; j < 8; j++) c[i][j] += Ap[k * 4 + i] * Bp[k * 8 + j];
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 8; j++) C[(size_t)i * ldc + j] = accumulate ? C[(size_t)i * ldc + j] + c[i][j] : c[i][j];
}

using Kernel = void (*)(int, const float*, const float*, float*, int, bool);
Kernel kernel_of(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return kernel_avx512;
    case Isa::Avx2: return kernel_avx2;
    default: return kernel_portable;
  }
}

// ---- packing

// op(A)[i0.., k0..] → mr-row strips, k-major, zero-padded to a multiple of mr rows.
void pack_a(bool trans, const float* A, int lda, int i0, int mc, int k0, int kc, int mr, float* out) {
  for (int s = 0; s < mc; s += mr) {
    int rows = std::min(mr, mc - s);
    float* dst = out + (size_t)s * kc;
    for (int k = 0; k < kc; k++) {
      for (int r = 0; r < rows; r++) {
        int i = i0 + s + r, kk = k0 + k;
        dst[k * mr + r] = trans ? A[(size_t)kk * lda + i] : A[(size_t)i * lda + kk];
      }
      for (int r = rows; r < mr; r++) dst[k * mr + r] = 0.f;
    }
  }
}

// op(B)[k0.., j0..] → nr-column strips, k-major, zero-padded to a multiple of nr columns.
void pack_b(bool trans, const float* B, int ldb, int k0, int kc, int j0, int nc, int nr, float* out) {
  for (int s = 0; s < nc; s += nr) {
    int cols = std::min(nr, nc - s);
    float* dst = out + (size_t)s * kc;
    if (!trans) {
      for (int k = 0; k < kc; k++) {
        const float* src = B + (size_t)(k0 + k) * ldb + j0 + s;
        std::memcpy(dst + k * nr, src, sizeof(float) * cols);
        for (int c = cols; c < nr; c++) dst[k * nr + c] = 0.f;
      }
    } else {
      for (int c = 0; c < cols; c++) {
        const float* src = B + (size_t)(j0 + s + c) * ldb + k0;
        for (int k = 0; k < kc; k++) dst[k * nr + c] = src[k];
      }
      for (int c = cols; c < nr; c++)
        for (int k = 0; k < kc; k++) dst[k * nr + c] = 0.f;
    }
  }
}

// Set once a compute thread asked for SCHED_IDLE: pool workers then take the same policy before their
// next job, whichever thread happened to create them.
std::atomic<bool> idle_requested{false};

bool schedule_this_thread_idle() {
#ifdef __linux__
  struct sched_param param;
  std::memset(&param, 0, sizeof(param));
  return sched_setscheduler(0, SCHED_IDLE, &param) == 0;
#else
  return false;
#endif
}

// MXCSR's flush-to-zero and denormals-are-zero bits.
constexpr unsigned FLUSH_DENORMALS = 0x8040;

// Sets FTZ/DAZ for a scope and restores the thread's previous MXCSR.
struct MxcsrGuard {
  unsigned saved = _mm_getcsr();
  MxcsrGuard() { _mm_setcsr(saved | FLUSH_DENORMALS); }
  ~MxcsrGuard() { _mm_setcsr(saved); }
};

// ---- a small persistent thread pool (the kernels run on the calling thread plus n−1 workers)

class Pool {
 public:
  explicit Pool(int n) { resize(n); }
  ~Pool() { stop(); }

  int size() const { return (int)workers_.size() + 1; }

  void resize(int n) {
    std::lock_guard<std::mutex> turn(dispatch_);
    if (n == size()) return;
    stop();
    quit_ = false;
    // New workers only take jobs published after they exist.
    const unsigned long now = generation_.load();
    for (int i = 1; i < n; i++) workers_.emplace_back([this, i, now] { loop(i, now); });
  }

  // Each thread runs its own task (the caller 0, worker i task i) instead of claiming: how the pool ran
  // before, kept as bench:contention's baseline.
  void set_static_schedule(bool on) {
    std::lock_guard<std::mutex> turn(dispatch_);
    static_schedule_.store(on);
  }

  // Runs fn(t) for t in [0, size()) and waits for all of them. The tasks are claimed, not assigned: the
  // caller and each woken worker take the next unclaimed one. On a busy machine (CI running test files side by
  // side, other processes on the cores) a worker may not get a core for a scheduler slice; with each task
  // fixed to its thread every call waited for it, while now the caller runs that task itself (bench:contention:
  // an ifBO Suggest ~3x faster at p50 with every core busy elsewhere, the same on a quiet machine). Workers
  // spin briefly before sleeping, so the many short jobs of one GEMM do not each pay a futex wake-up.
  // everyThread: each thread runs the task of its own index (as the static schedule does), so that every
  // worker has woken and run it before this returns.
  void run(const std::function<void(int)>& fn, bool everyThread = false) {
    // The pool is one per process (the addon's statics are shared by every worker thread that loads it):
    // concurrent callers — two training runs in two worker threads — take turns. Queuing beats running
    // both at full width on the same cores, which the spinning workers would make worse.
    std::lock_guard<std::mutex> turn(dispatch_);
    if (workers_.empty()) {
      fn(0);
      return;
    }
    // Whichever thread runs a task, it runs with denormals flushed, as the workers always do: the result of
    // a task must not depend on which thread claimed it.
    const MxcsrGuard flushDenormals;
    const int tasks = size();
    unsigned long gen;
    bool fixed;
    {
      std::lock_guard<std::mutex> lock(mu_);
      job_ = &fn;
      tasks_ = tasks;
      fixed = job_static_ = everyThread || static_schedule_.load();
      gen = generation_.load() + 1;
      done_.store(0);
      next_.store(claimState(gen, 0));
      generation_.store(gen);
    }
    cv_.notify_all();
    if (fixed) {
      fn(0);
      finish(tasks);
    } else {
      for (int t; (t = claim(gen, tasks)) >= 0;) {
        fn(t);
        finish(tasks);
      }
    }
    for (int spin = 0; done_.load(std::memory_order_acquire) != tasks; spin++) {
      if (spin < SPIN) {
        _mm_pause();
        continue;
      }
      std::unique_lock<std::mutex> lock(mu_);
      all_done_.wait(lock, [&] { return done_.load() == tasks; });
      break;
    }
  }

 private:
  static constexpr int SPIN = 20000;

  // The claim counter holds the job's generation (high 32 bits) beside the next task (low 32 bits), so a
  // worker that wakes after its job was finished cannot claim a task of the next one with the old function.
  static unsigned long long claimState(unsigned long gen, int task) {
    return ((unsigned long long)(gen & 0xffffffffUL) << 32) | (unsigned)task;
  }

  // The next task of job `gen`, or −1 when it has none left (or a newer job replaced it).
  int claim(unsigned long gen, int tasks) {
    unsigned long long state = next_.load(std::memory_order_acquire);
    for (;;) {
      if ((state >> 32) != (gen & 0xffffffffUL) || (int)(state & 0xffffffffULL) >= tasks) return -1;
      if (next_.compare_exchange_weak(state, state + 1, std::memory_order_acq_rel)) return (int)(state & 0xffffffffULL);
    }
  }

  void finish(int tasks) {
    if (done_.fetch_add(1, std::memory_order_acq_rel) + 1 == tasks) {
      std::lock_guard<std::mutex> lock(mu_);
      all_done_.notify_one();
    }
  }

  void loop(int id, unsigned long seen) {
    bool idle = false;
    bool ftz = false;
    for (;;) {
      int spin = 0;
      while (generation_.load(std::memory_order_acquire) == seen && !quit_.load() && spin < SPIN) {
        _mm_pause();
        spin++;
      }
      if (generation_.load(std::memory_order_acquire) == seen) {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return quit_.load() || generation_.load() != seen; });
      }
      if (quit_.load()) return;
      const std::function<void(int)>* job;
      int tasks;
      bool fixed;
      {
        std::lock_guard<std::mutex> lock(mu_);
        seen = generation_.load();
        job = job_;
        tasks = tasks_;
        fixed = job_static_;
      }
      if (!idle && idle_requested.load(std::memory_order_relaxed)) {
        schedule_this_thread_idle();
        idle = true;  // tried once; where it is refused the worker keeps its priority
      }
      // Pool threads run only kernels: denormals flushed to zero for good (see MxcsrGuard).
      if (!ftz) {
        _mm_setcsr(_mm_getcsr() | FLUSH_DENORMALS);
        ftz = true;
      }
      // `job` is only called for a task claimed under `seen`: the caller cannot return before that task is done.
      if (fixed) {
        (*job)(id);
        finish(tasks);
      } else {
        for (int t; (t = claim(seen, tasks)) >= 0;) {
          (*job)(t);
          finish(tasks);
        }
      }
    }
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      quit_ = true;
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
  }

  std::vector<std::thread> workers_;
  std::mutex dispatch_;
  std::mutex mu_;
  std::condition_variable cv_, all_done_;
  const std::function<void(int)>* job_ = nullptr;
  int tasks_ = 0;
  bool job_static_ = false;
  std::atomic<unsigned long long> next_{0};
  std::atomic<int> done_{0};
  std::atomic<unsigned long> generation_{0};
  std::atomic<bool> quit_{false};
  std::atomic<bool> static_schedule_{false};
};

int default_threads() {
  const char* env = std::getenv("FLOE_THREADS");
  int n = env ? std::atoi(env) : 0;
  if (n <= 0) n = (int)std::thread::hardware_concurrency();
  return std::max(1, n);
}

Pool& pool() {
  static Pool p(default_threads());
  return p;
}

float* aligned(size_t floats) { return static_cast<float*>(std::aligned_alloc(64, ((floats * sizeof(float) + 63) / 64) * 64)); }

// Packing buffers kept per thread and grown, never shrunk: a step makes hundreds of small products, and a
// fresh panel of a few hundred KB each time came from mmap with its page faults.
struct Scratch {
  float* data = nullptr;
  size_t floats = 0;
  ~Scratch() { std::free(data); }
  float* get(size_t n) {
    if (n > floats) {
      std::free(data);
      data = aligned(n);
      floats = n;
    }
    return data;
  }
};
thread_local Scratch packed_b;
thread_local Scratch packed_a;

}  // namespace

void set_threads(int n) { pool().resize(std::max(1, n)); }
void set_static_schedule(bool on) { pool().set_static_schedule(on); }

bool idle_scheduling() {
  if (!schedule_this_thread_idle()) return false;
  idle_requested.store(true);
  // Every pool thread takes the policy now (a worker applies it before any job), not at the first task it
  // happens to claim — a worker that never wins a claim would otherwise keep its priority.
  pool().run([](int) {}, true);
  return true;
}

// fn(i) for i < n, items dealt round-robin to the threads.
void parallel_for_chunks(int n, const std::function<void(int)>& fn) {
  Pool& p = pool();
  const int threads = std::min(n, p.size());
  if (threads <= 1) {
    for (int i = 0; i < n; i++) fn(i);
    return;
  }
  p.run([&](int t) {
    for (int i = t; i < n; i += p.size()) fn(i);
  });
}

// Splits [0, n) into one contiguous range per thread (small n runs on the caller alone).
void parallel_for(int n, const std::function<void(int, int)>& body) {
  Pool& p = pool();
  const int threads = n < 64 ? 1 : p.size();
  if (threads == 1) {
    body(0, n);
    return;
  }
  p.run([&](int t) {
    const int begin = (int)((long)n * t / threads), end = (int)((long)n * (t + 1) / threads);
    if (begin < end) body(begin, end);
  });
}
int get_threads() { return pool().size(); }

const char* isa() {
  switch (g_isa) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    default: return "portable";
  }
}

void force_isa(const char* name) {
  Isa best = detect();
  Isa want = std::strcmp(name, "avx512") == 0 ? Isa::Avx512 : std::strcmp(name, "avx2") == 0 ? Isa::Avx2 : Isa::Portable;
  // Never above what the CPU has.
  g_isa = (int)want <= (int)best ? want : best;
}

namespace {
// Runs fn(t) for t < threads: on the pool, or inline when the caller is already one of many parallel
// small products (nested pool runs would deadlock).
void run_on(bool parallel, const std::function<void(int)>& fn) {
  if (parallel) pool().run(fn);
  else fn(0);
}
}  // namespace

static void sgemm_impl(bool parallel, bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda,
                       const float* B, int ldb, float beta, float* C, int ldc);

void sgemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
           float beta, float* C, int ldc) {
  // Denormal inputs (tiny gradients) slow the FMA units ~10x: flush them to zero for the product, as
  // TensorFlow does on CPUs, and give the calling thread (a JS thread) its own rounding mode back after.
  const MxcsrGuard flushDenormals;
  const int threads = pool().size();
  // Small output, long reduction (a filter gradient: K = batch·positions): the row blocks cannot keep the
  // threads busy, so split K instead, each thread into its own partial C, then add them up.
  if (threads > 1 && M <= SPLIT_K_MAX_M && K >= 2048 && (long)M * N <= 262144) {
    std::vector<std::vector<float>> partial(threads);
    const int chunk = (K + threads - 1) / threads;
    pool().run([&](int t) {
      const int k0 = t * chunk, k1 = std::min(K, k0 + chunk);
      if (k0 >= k1) return;
      partial[t].assign((size_t)M * N, 0.f);
      const float* a = transA ? A + (size_t)k0 * lda : A + k0;
      const float* b = transB ? B + k0 : B + (size_t)k0 * ldb;
      sgemm_impl(false, transA, transB, M, N, k1 - k0, alpha, a, lda, b, ldb, 0.f, partial[t].data(), N);
    });
    for (int i = 0; i < M; i++) {
      float* row = C + (size_t)i * ldc;
      for (int j = 0; j < N; j++) {
        float sum = 0.f;
        for (int t = 0; t < threads; t++)
          if (!partial[t].empty()) sum += partial[t][(size_t)i * N + j];
        row[j] = (beta == 0.f ? 0.f : beta * row[j]) + sum;
      }
    }
    return;
  }
  sgemm_impl(true, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void sgemm_batched(int batch, bool transA, bool transB, int M, int N, int K, float alpha, const float* A, long strideA, int lda,
                   const float* B, long strideB, int ldb, float beta, float* C, long strideC, int ldc) {
  const MxcsrGuard flushDenormals;
  // Many small products: one per thread at a time. Few or large ones: each product uses every thread.
  const double work = 2.0 * M * N * K;
  if (batch >= 2 && work < 8e6) {
    parallel_for_chunks(batch, [&](int b) {
      sgemm_impl(false, transA, transB, M, N, K, alpha, A + b * strideA, lda, B + b * strideB, ldb, beta, C + b * strideC, ldc);
    });
    return;
  }
  for (int b = 0; b < batch; b++) sgemm(transA, transB, M, N, K, alpha, A + b * strideA, lda, B + b * strideB, ldb, beta, C + b * strideC, ldc);
}

static void sgemm_impl(bool parallel, bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda,
                       const float* B, int ldb, float beta, float* C, int ldc) {
  if (M <= 0 || N <= 0) return;
  // alpha is folded into the packed A. With beta = 0 the first K panel stores its tiles (C is neither
  // cleared nor read: a third of the memory traffic of a K = 128 product); otherwise C = beta·C first
  // and every panel adds.
  const bool storeFirst = beta == 0.f && K > 0 && alpha != 0.f;
  if (beta != 1.f && !storeFirst)
    for (int i = 0; i < M; i++) {
      float* row = C + (size_t)i * ldc;
      if (beta == 0.f) std::memset(row, 0, sizeof(float) * N);
      else for (int j = 0; j < N; j++) row[j] *= beta;
    }
  if (K <= 0 || alpha == 0.f) return;

  const Isa isa = g_isa;
  const Shape sh = shape_of(isa);
  const Kernel kernel = kernel_of(isa);
  const int threads = parallel ? pool().size() : 1;
  const int ncMax = std::min(NC, ((N + sh.nr - 1) / sh.nr) * sh.nr);
  // A read in place rather than packed (kernel_avx512_masked) while N spans at most 8 strips: packing A then
  // costs as much as the FMAs it feeds. Timed here (GFLOP/s, packed → in place): [4096 × 500]·[500 × 50] 195 →
  // 330, [2048 × 256]·[256 × 256] 330–360 → 400–420, [2048 × 1024]·[1024 × 256] 320–380 → 410; with N 768 or
  // 1,024 in place was ~10 % slower.
  const bool directA = isa == Isa::Avx512 && !transA && alpha == 1.f && N <= 8 * MAX_NR;
  float* Bp = packed_b.get((size_t)KC * ncMax);

  for (int j0 = 0; j0 < N; j0 += NC) {
    const int nc = std::min(NC, N - j0);
    const int ncPad = ((nc + sh.nr - 1) / sh.nr) * sh.nr;
    for (int k0 = 0; k0 < K; k0 += KC) {
      const int kc = std::min(KC, K - k0);
      const bool accumulate = !(storeFirst && k0 == 0);
      // Pack B's panel in parallel: strips of nr columns split over the threads.
      const int strips = ncPad / sh.nr;
      run_on(parallel, [&](int t) {
        for (int s = t; s < strips; s += threads) {
          int cols = std::min(sh.nr, nc - s * sh.nr);
          pack_b(transB, B, ldb, k0, kc, j0 + s * sh.nr, cols, sh.nr, Bp + (size_t)s * sh.nr * kc);
        }
      });
      // Row blocks of A over the threads, each packing its own. Blocks of at most MC rows, as many as a
      // multiple of the threads and of equal height (in whole micro-tiles): 128 rows on 2 threads are two
      // blocks of 64, not 96 + 32 (a filter gradient's M is often just above MC).
      const int blocks = ((M + MC - 1) / MC + threads - 1) / threads * threads;
      const int rowsPer = std::min(MC, ((M + blocks - 1) / blocks + sh.mr - 1) / sh.mr * sh.mr);
      run_on(parallel, [&](int t) {
        float* Ap = packed_a.get((size_t)MC * KC + (size_t)MAX_MR * KC);
        alignas(64) float tile[MAX_MR * MAX_NR];
        for (int b = t; b < blocks; b += threads) {
          const int i0 = b * rowsPer;
          if (i0 >= M) break;
          const int mc = std::min(rowsPer, M - i0);
          if (directA) {
            // Whole tiles of 8 rows read A in place; a last partial tile is packed (its zero rows padded).
            const int whole = mc / 8 * 8;
            for (int jr = 0; jr < nc; jr += sh.nr) {
              const int cols = std::min(sh.nr, nc - jr);
              const float* bp = Bp + (size_t)jr * kc;
              for (int ir = 0; ir < whole; ir += 8)
                kernel_avx512_masked<true>(kc, A + (size_t)(i0 + ir) * lda + k0, lda, bp,
                                           C + (size_t)(i0 + ir) * ldc + j0 + jr, ldc, accumulate, 8, cols);
            }
            if (whole == mc) continue;
            pack_a(false, A, lda, i0 + whole, mc - whole, k0, kc, sh.mr, Ap);
            for (int jr = 0; jr < nc; jr += sh.nr)
              kernel_avx512_masked<false>(kc, Ap, 0, Bp + (size_t)jr * kc, C + (size_t)(i0 + whole) * ldc + j0 + jr,
                                          ldc, accumulate, mc - whole, std::min(sh.nr, nc - jr));
            continue;
          }
          pack_a(transA, A, lda, i0, mc, k0, kc, sh.mr, Ap);
          if (alpha != 1.f)
            for (size_t q = 0; q < (size_t)((mc + sh.mr - 1) / sh.mr) * sh.mr * kc; q++) Ap[q] *= alpha;
          for (int jr = 0; jr < nc; jr += sh.nr) {
            const int cols = std::min(sh.nr, nc - jr);
            const float* bp = Bp + (size_t)jr * kc;
            for (int ir = 0; ir < mc; ir += sh.mr) {
              const int rows = std::min(sh.mr, mc - ir);
              const float* ap = Ap + (size_t)ir * kc;
              float* c = C + (size_t)(i0 + ir) * ldc + j0 + jr;
              if (rows == sh.mr && cols == sh.nr) {
                kernel(kc, ap, bp, c, ldc, accumulate);
              } else if (isa == Isa::Avx512) {
                kernel_avx512_masked<false>(kc, ap, 0, bp, c, ldc, accumulate, rows, cols);
              } else {
                // Edge tile: compute into a scratch tile, store or add the valid part.
                kernel(kc, ap, bp, tile, sh.nr, false);
                for (int r = 0; r < rows; r++)
                  for (int q = 0; q < cols; q++)
                    c[(size_t)r * ldc + q] = (accumulate ? c[(size_t)r * ldc + q] : 0.f) + tile[r * sh.nr + q];
              }
            }
          }
        }
      });
    }
  }
}

}  // namespace floe
