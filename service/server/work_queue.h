// A bounded pool of worker threads for the server's blocking work (embedding,
// retrieval, waiting for the batch scheduler, SQLite), so gRPC's reactor
// threads never block on compute. When `workers` jobs run and `capacity`
// more wait, TrySubmit refuses: the caller answers RESOURCE_EXHAUSTED.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace tinyrag::server {

class WorkQueue {
 public:
  // Starts `workers` (>= 1) threads; at most `capacity` (>= 0) jobs wait.
  WorkQueue(int workers, int capacity);
  // Runs every job already accepted, then joins the threads.
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Queues `job` unless the queue is full or closed; false then (the job is
  // dropped unrun). Thread-safe.
  bool TrySubmit(std::function<void()> job);

  // Refuses new jobs from now on; accepted ones still run. Thread-safe.
  void Close();

  int waiting() const;  // jobs accepted but not started
  int running() const;  // jobs started and not finished

 private:
  void Loop();

  const int capacity_;
  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> jobs_ ABSL_GUARDED_BY(mu_);
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  int idle_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace tinyrag::server
