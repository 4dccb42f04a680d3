// A fixed pool of worker threads for data-parallel kernels.
//
// Threads are created once in the constructor. ParallelFor hands out task
// indices dynamically (an atomic counter), so uneven tasks balance themselves;
// the calling thread works too. Idle workers spin briefly, then sleep on a
// condition variable: a decode step calls ParallelFor ~100 times per token, so
// the spin keeps wake-up latency low between back-to-back calls.
//
// Thread safety: ParallelFor may be called from any thread; calls from
// different threads are serialized (one job runs at a time). A ParallelFor
// made from inside a task of the same pool runs its tasks inline on that
// thread (nesting is allowed but not parallel). Destroying the pool while a
// ParallelFor is running is not allowed (the caller owns the pool's lifetime).
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"

namespace tinyrag {

class ThreadPool {
 public:
  // A pool of `num_threads` threads in total, counting the caller of
  // ParallelFor: num_threads - 1 workers are started. Values < 1 mean 1 (no
  // workers: everything runs inline).
  explicit ThreadPool(int num_threads);
  ~ThreadPool();

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Threads that run tasks, including the caller (>= 1).
  int num_threads() const { return num_threads_; }

  // Calls fn(task, thread) once for every task in [0, n_tasks) and returns
  // when all calls have returned. `thread` is in [0, num_threads()) and unique
  // among concurrently running calls (0 is the caller), so it can index
  // per-thread scratch space. n_tasks <= 0 does nothing.
  void ParallelFor(int64_t n_tasks, absl::FunctionRef<void(int64_t task, int thread)> fn);

  // Splits [0, n) into contiguous ranges of at least `grain` items (a few per
  // thread, for balance) and calls fn(begin, end, thread) once per range.
  void ParallelForRange(int64_t n, int64_t grain,
                        absl::FunctionRef<void(int64_t begin, int64_t end, int thread)> fn);

 private:
  void WorkerLoop(int thread);
  // Claims and runs tasks of job `gen` until none is left.
  void RunTasks(uint32_t gen, int thread);

  const int num_threads_;

  // The current job's function, written only by the caller holding call_mu_
  // before it publishes the job through `claim_`.
  absl::FunctionRef<void(int64_t, int)>* fn_ = nullptr;
  // The job word: generation (24 bits) | task count (20) | next task (20).
  // Keeping the count in the same word as the index means a claim can never
  // pair one job's index with another job's count.
  std::atomic<uint64_t> claim_{0};
  std::atomic<int64_t> done_{0};  // tasks of the current job that have finished

  absl::Mutex call_mu_;  // serializes ParallelFor callers
  absl::Mutex mu_;
  absl::CondVar wake_;
  int sleepers_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;

  std::vector<std::thread> workers_;
};

}  // namespace tinyrag
