#include "model/thread_pool.h"

#include <algorithm>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TINYRAG_PAUSE() _mm_pause()
#else
#define TINYRAG_PAUSE() std::atomic_signal_fence(std::memory_order_seq_cst)
#endif

namespace tinyrag {
namespace {

// Spin iterations (a pause is ~10-30 ns, a yield ~1 us) before a worker sleeps: long
// enough to bridge the gap between the matvecs of one decode step, short
// enough not to burn a core when the pool is idle. After the first
// kPauseIterations the spin yields the core between checks, so an
// oversubscribed machine still runs the threads we are waiting for.
constexpr int kSpinIterations = 2500;
constexpr int kPauseIterations = 2000;

// One step of a spin-wait: pause first, yield to the scheduler later.
void SpinStep(int i) {
  if (i < kPauseIterations) {
    TINYRAG_PAUSE();
  } else {
    std::this_thread::yield();
  }
}

// The pool whose task the current thread is running, to detect nesting.
thread_local const ThreadPool* tls_running_pool = nullptr;

constexpr int kIndexBits = 20;
constexpr uint64_t kIndexMask = (uint64_t{1} << kIndexBits) - 1;
constexpr int64_t kMaxTasksPerJob = int64_t{1} << kIndexBits;  // exclusive bound
constexpr uint32_t kGenMask = (1u << 24) - 1;

uint32_t GenOf(uint64_t claim) { return static_cast<uint32_t>(claim >> (2 * kIndexBits)); }
int64_t CountOf(uint64_t claim) { return static_cast<int64_t>((claim >> kIndexBits) & kIndexMask); }
int64_t IndexOf(uint64_t claim) { return static_cast<int64_t>(claim & kIndexMask); }

}  // namespace

ThreadPool::ThreadPool(int num_threads) : num_threads_(std::max(1, num_threads)) {
  workers_.reserve(num_threads_ - 1);
  for (int t = 1; t < num_threads_; ++t) workers_.emplace_back([this, t] { WorkerLoop(t); });
}

ThreadPool::~ThreadPool() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    wake_.SignalAll();
  }
  for (std::thread& w : workers_) w.join();
}

void ThreadPool::RunTasks(uint32_t gen, int thread) {
  uint64_t cur = claim_.load(std::memory_order_acquire);
  for (;;) {
    if (GenOf(cur) != gen) return;
    const int64_t task = IndexOf(cur);
    if (task >= CountOf(cur)) return;
    // A successful claim proves job `gen` is unfinished, so fn_ is still valid.
    if (!claim_.compare_exchange_weak(cur, cur + 1, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
      continue;
    }
    const ThreadPool* outer = tls_running_pool;
    tls_running_pool = this;
    (*fn_)(task, thread);
    tls_running_pool = outer;
    done_.fetch_add(1, std::memory_order_release);
    cur = claim_.load(std::memory_order_acquire);
  }
}

void ThreadPool::WorkerLoop(int thread) {
  uint32_t seen = 0;
  for (;;) {
    bool have_job = false;
    for (int i = 0; i < kSpinIterations; ++i) {
      if (GenOf(claim_.load(std::memory_order_acquire)) != seen) {
        have_job = true;
        break;
      }
      SpinStep(i);
    }
    if (!have_job) {
      absl::MutexLock lock(&mu_);
      ++sleepers_;
      while (!stop_ && GenOf(claim_.load(std::memory_order_acquire)) == seen) wake_.Wait(&mu_);
      --sleepers_;
      if (stop_) return;
    }
    seen = GenOf(claim_.load(std::memory_order_acquire));
    RunTasks(seen, thread);
  }
}

void ThreadPool::ParallelFor(int64_t n_tasks, absl::FunctionRef<void(int64_t task, int thread)> fn) {
  if (n_tasks <= 0) return;
  if (num_threads_ == 1 || n_tasks == 1 || tls_running_pool == this) {
    for (int64_t t = 0; t < n_tasks; ++t) fn(t, 0);
    return;
  }
  // Task indices live in 20 bits of claim_; larger jobs are split into rounds.
  constexpr int64_t kMaxTasks = kMaxTasksPerJob - 1;
  if (n_tasks > kMaxTasks) {
    for (int64_t base = 0; base < n_tasks; base += kMaxTasks) {
      const int64_t count = std::min(kMaxTasks, n_tasks - base);
      ParallelFor(count, [&](int64_t task, int thread) { fn(base + task, thread); });
    }
    return;
  }
  absl::MutexLock call_lock(&call_mu_);
  fn_ = &fn;
  done_.store(0, std::memory_order_relaxed);
  const uint32_t gen = (GenOf(claim_.load(std::memory_order_relaxed)) + 1) & kGenMask;
  {
    absl::MutexLock lock(&mu_);
    claim_.store((static_cast<uint64_t>(gen) << (2 * kIndexBits)) |
                     (static_cast<uint64_t>(n_tasks) << kIndexBits),
                 std::memory_order_release);
    if (sleepers_ > 0) wake_.SignalAll();
  }
  RunTasks(gen, 0);
  // The remaining tasks are running on workers right now: spin until done.
  for (int i = 0; done_.load(std::memory_order_acquire) < n_tasks; ++i) {
    SpinStep(i < kPauseIterations ? i : kPauseIterations);
  }
  fn_ = nullptr;
}

void ThreadPool::ParallelForRange(
    int64_t n, int64_t grain, absl::FunctionRef<void(int64_t begin, int64_t end, int thread)> fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  // A few ranges per thread lets fast threads take over from slow ones.
  const int64_t max_ranges = num_threads_ == 1 ? 1 : int64_t{4} * num_threads_;
  int64_t ranges = std::min(max_ranges, n / grain);  // floor: ranges hold >= grain
  ranges = std::max<int64_t>(1, ranges);
  const int64_t chunk = (n + ranges - 1) / ranges;
  ranges = (n + chunk - 1) / chunk;
  ParallelFor(ranges, [&](int64_t r, int thread) {
    const int64_t begin = r * chunk;
    fn(begin, std::min(n, begin + chunk), thread);
  });
}

}  // namespace tinyrag
